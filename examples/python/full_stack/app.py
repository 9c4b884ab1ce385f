"""The full-stack reference app in Python: examples/full-stack/app.ts line for line, against the cdk-serverless-llm wheel.

All four constructs in one stack: a chat page on CloudFront whose /api/* streams from a VPC-attached Bedrock proxy
with sessions and rate limits in ElastiCache, deployed by GitHub Actions. test/bindings/python-full-stack.sh
synthesizes it and checks that it has the same resources (logical ids and types) as the TypeScript app.

    python3 -m venv .venv && . .venv/bin/activate && pip install -r requirements.txt
    npx aws-cdk@2 synth    # or: python app.py (README.md has the steps)
"""
import os
from typing import Optional

import aws_cdk as cdk
from aws_cdk.aws_route53 import HostedZone
from cdk_nag import AwsSolutionsChecks, HIPAASecurityChecks, NIST80053R5Checks, ServerlessChecks
from cdk_serverless_llm import (
    GithubOidcDeployer,
    ProxyRateLimits,
    SpaApiRoute,
    SpaDomain,
    SpaFrontend,
    StreamingLlmProxy,
    TrustFilter,
    VpcRedisSessions,
)

# The chat page (examples/chat-web/web), relative to this file.
CHAT_WEB_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "chat-web", "web")


def build_app(app: Optional[cdk.App] = None) -> cdk.App:
    app = app or cdk.App()
    cdk.Validations.of(app).add_plugins(
        AwsSolutionsChecks(app), ServerlessChecks(app), NIST80053R5Checks(app), HIPAASecurityChecks(app)
    )
    stack = cdk.Stack(app, "FullStack", env=cdk.Environment(account="123456789012", region="us-east-1"))
    hosted_zone = HostedZone.from_hosted_zone_attributes(
        stack, "Zone", hosted_zone_id="Z0123456789EXAMPLE", zone_name="example.com"
    )

    # Valkey (Multi-AZ, TLS, IAM auth) in a new VPC, for sessions and rate-limit counters.
    sessions = VpcRedisSessions(stack, "Sessions")
    # Anthropic and OpenAI APIs on Bedrock with API keys; in the VPC, so served by API Gateway REST response streaming.
    proxy = StreamingLlmProxy(
        stack, "Proxy", sessions=sessions, rate_limits=ProxyRateLimits(requests_per_minute=60, tokens_per_day=2_000_000)
    )
    # The chat page on CloudFront with a certificate and DNS records, and /api/* streamed from the proxy.
    site = SpaFrontend(
        stack,
        "Site",
        source=CHAT_WEB_DIR,
        domain=SpaDomain(domain_name="chat.example.com", hosted_zone=hosted_zone),
        api=SpaApiRoute(proxy=proxy),
    )
    # GitHub Actions in the `production` environment: cdk deploy, upload the page, ship new proxy code.
    deployer = GithubOidcDeployer(
        stack, "Deployer", repository="example-org/llm-chat", filters=[TrustFilter.environment("production")]
    )
    deployer.grant_cdk_deploy()
    deployer.grant_asset_deploy(site.bucket, site.distribution)
    deployer.grant_lambda_deploy(proxy.function)
    cdk.CfnOutput(stack, "SiteUrl", value=site.url)
    return app


if __name__ == "__main__":
    build_app().synth()
