/**
 * The StreamingLlmProxy Lambda function (response streaming; Function URL or API Gateway REST). Configuration is read
 * and validated once, at init: a bad value fails the init with a message naming the variable.
 */
import { createApp } from './app';
import { loadConfig } from './config';
import { createStreamingHandler } from './lambda-handler';
import { runtimeGlobal } from '../shared/awslambda-shim';

const runtime = runtimeGlobal.awslambda;
if (!runtime) throw new Error('The awslambda runtime global is missing: this module runs in the Lambda Node.js runtime (or under the awslambda shim).');

export const handler = createStreamingHandler(createApp(loadConfig(process.env)), runtime);
