import { buildApp } from './app';

buildApp();
