// Binding smoke test: trust one environment through GitHub's immutable subject claims, grant a Lambda deployment, and
// check the synthesized template. A failed assertion panics, so the program exits non-zero.
package main

import (
	"fmt"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdk-serverless-llm/cdk-serverless-llm-go/cdkserverlessllm"
)

const (
	sub = "token.actions.githubusercontent.com:sub"
	aud = "token.actions.githubusercontent.com:aud"
)

func main() {
	defer jsii.Close()

	app := awscdk.NewApp(nil)
	stack := awscdk.NewStack(app, jsii.String("GoBindingStack"), &awscdk.StackProps{
		Env: &awscdk.Environment{Account: jsii.String("111111111111"), Region: jsii.String("eu-west-1")},
	})
	deployer := cdkserverlessllm.NewGithubOidcDeployer(stack, jsii.String("Deployer"), &cdkserverlessllm.GithubOidcDeployerProps{
		Repository:   jsii.String("octo-org/octo-repo"),
		Filters:      &[]cdkserverlessllm.TrustFilter{cdkserverlessllm.TrustFilter_Environment(jsii.String("production"))},
		OwnerId:      jsii.Number(1234),
		RepositoryId: jsii.Number(56789),
	})
	fn := awslambda.NewFunction(stack, jsii.String("Fn"), &awslambda.FunctionProps{
		Runtime: awslambda.Runtime_NODEJS_24_X(),
		Handler: jsii.String("index.handler"),
		Code:    awslambda.Code_FromInline(jsii.String("exports.handler = async () => 1;")),
	})
	if !*deployer.GrantLambdaDeploy(fn).Success() {
		panic("GrantLambdaDeploy did not add its statements")
	}

	template := assertions.Template_FromStack(stack, nil)
	template.ResourceCountIs(jsii.String("AWS::IAM::OIDCProvider"), jsii.Number(1))
	template.HasResourceProperties(jsii.String("AWS::IAM::Role"), map[string]interface{}{
		"AssumeRolePolicyDocument": map[string]interface{}{
			"Statement": []interface{}{map[string]interface{}{
				"Action": "sts:AssumeRoleWithWebIdentity",
				"Effect": "Allow",
				"Principal": map[string]interface{}{
					"Federated": map[string]interface{}{"Ref": assertions.Match_AnyValue()},
				},
				"Condition": map[string]interface{}{"StringEquals": map[string]interface{}{
					aud: "sts.amazonaws.com",
					sub: []interface{}{"repo:octo-org@1234/octo-repo@56789:environment:production"},
				}},
			}},
		},
	})
	template.HasResourceProperties(jsii.String("AWS::IAM::ManagedPolicy"), map[string]interface{}{
		"PolicyDocument": map[string]interface{}{
			"Statement": assertions.Match_ArrayWith(&[]interface{}{
				map[string]interface{}{
					"Action":   []interface{}{"lambda:GetFunctionConfiguration", "lambda:PublishVersion", "lambda:UpdateFunctionCode"},
					"Effect":   "Allow",
					"Resource": map[string]interface{}{"Fn::GetAtt": []interface{}{*stack.GetLogicalId(fn.Node().DefaultChild().(awscdk.CfnElement)), "Arn"}},
				},
			}),
		},
	})

	subjects := *deployer.AllowedSubjects()
	if len(subjects) != 1 || *subjects[0] != "repo:octo-org@1234/octo-repo@56789:environment:production" {
		panic(fmt.Sprintf("unexpected allowed subjects: %v", subjects))
	}
	if !strings.Contains(*deployer.WorkflowSnippet(), "    environment: 'production'") {
		panic("the workflow snippet does not run in the production environment:\n" + *deployer.WorkflowSnippet())
	}

	fmt.Println("go: immutable-subject trust, Lambda deploy grant and workflow snippet as expected")
}
