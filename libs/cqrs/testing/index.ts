export { given } from './given-when-then';
