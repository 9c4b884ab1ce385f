// Binding smoke test: a Go program that uses the module jsii-pacmak generated in dist/go. test/bindings/run.sh runs it
// from a temporary copy (with the replace made absolute, and go mod tidy adding the rest at the versions it requires).
module github.com/cdk-serverless-llm/cdk-serverless-llm/test/bindings/go

go 1.25

require github.com/cdk-serverless-llm/cdk-serverless-llm-go/cdkserverlessllm v0.0.0

replace github.com/cdk-serverless-llm/cdk-serverless-llm-go/cdkserverlessllm => ../../../dist/go/cdkserverlessllm
