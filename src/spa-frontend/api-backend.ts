import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import * as lambda from 'aws-cdk-lib/aws-lambda';

/**
 * An HTTP API that `SpaFrontend` can route a path to: exactly one of a Lambda function URL or an API Gateway REST API.
 */
export interface ISpaApiBackend {
  /**
   * The function URL the API is served from.
   *
   * @default - the API is not served from a function URL
   */
  readonly functionUrl?: lambda.IFunctionUrl;

  /**
   * The REST API the API is served from; CloudFront calls its deployment stage.
   *
   * @default - the API is not served from a REST API
   */
  readonly restApi?: apigateway.RestApiBase;
}
