import type { MessagesOf } from '#platform';
import type { en } from './en';

// French typography puts a no-break space (U+00A0) before « : », « ? » and « ! »: written as \u00a0
// so that it cannot be lost to an editor, and a line never breaks before the sign.

/** Login's pages in French; a key missing here, or one English lacks, fails the type check. */
export const fr: MessagesOf<typeof en> = {
  'signIn.title': 'Connexion',
  'signIn.submit': 'Se connecter',
  'field.email': 'Adresse e-mail',
  'field.password': 'Mot de passe',
  'journey.forgotPassword': 'Mot de passe oublié\u00a0?',
  'journey.signUp': 'Créer un compte',
  'failure.invalid_credentials': 'L’adresse e-mail ou le mot de passe est incorrect.',
  'failure.locked': 'Trop de tentatives ont échoué. Réessayez plus tard ou réinitialisez votre mot de passe.',
  'failure.throttled': 'Trop de tentatives ont échoué. Réessayez plus tard ou réinitialisez votre mot de passe.',
  'failure.email_unverified': 'Confirmez d’abord votre adresse e-mail\u00a0: suivez le lien de l’e-mail que nous vous avons envoyé.',
  'failure.busy': 'Beaucoup de personnes se connectent à ce service en ce moment. Réessayez dans un instant.',
  'form.notAnAddress': 'Saisissez votre adresse e-mail\u00a0: une seule ligne d’au plus 254\u00a0caractères.',
  'form.noPassword': 'Saisissez votre mot de passe.',
  'consent.title': 'Autoriser l’accès',
  'consent.asks': 'L’application {client} demande\u00a0:',
  'consent.allow': 'Autoriser',
  'consent.deny': 'Refuser',
  'device.title': 'Connecter un appareil',
  'device.enterCode': 'Saisissez le code affiché par votre appareil.',
  'device.invalidCode': 'Ce code n’est pas valide. Réessayez.',
  'device.confirm': 'Connecter {client} avec le code {code}\u00a0?',
  'device.continue': 'Continuer',
  'device.connected.title': 'Appareil connecté',
  'device.connected': 'Vous pouvez revenir à votre appareil.',
  'signOut.title': 'Déconnexion',
  'signOut.question': 'Voulez-vous vous déconnecter de {site}\u00a0?',
  'signOut.confirm': 'Me déconnecter',
  'signOut.stay': 'Ne pas me déconnecter',
  'signedOut.title': 'Déconnexion effectuée',
  'signedOut.done': 'Votre session est terminée.',
  'error.title': 'Une erreur est survenue',
};
