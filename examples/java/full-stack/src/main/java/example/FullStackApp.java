package example;

import io.github.cdklabs.cdknag.AwsSolutionsChecks;
import io.github.cdklabs.cdknag.HIPAASecurityChecks;
import io.github.cdklabs.cdknag.NIST80053R5Checks;
import io.github.cdklabs.cdknag.ServerlessChecks;
import io.github.cdkserverlessllm.GithubOidcDeployer;
import io.github.cdkserverlessllm.ProxyRateLimits;
import io.github.cdkserverlessllm.SpaApiRoute;
import io.github.cdkserverlessllm.SpaDomain;
import io.github.cdkserverlessllm.SpaFrontend;
import io.github.cdkserverlessllm.StreamingLlmProxy;
import io.github.cdkserverlessllm.TrustFilter;
import io.github.cdkserverlessllm.VpcRedisSessions;
import java.nio.file.Path;
import java.util.List;
import software.amazon.awscdk.App;
import software.amazon.awscdk.CfnOutput;
import software.amazon.awscdk.Environment;
import software.amazon.awscdk.Stack;
import software.amazon.awscdk.StackProps;
import software.amazon.awscdk.Validations;
import software.amazon.awscdk.services.route53.HostedZone;
import software.amazon.awscdk.services.route53.HostedZoneAttributes;
import software.amazon.awscdk.services.route53.IHostedZone;

/**
 * The full-stack reference app in Java: examples/full-stack/app.ts line for line. A chat page on CloudFront whose
 * /api/* streams from a VPC-attached Bedrock proxy with sessions and rate limits in ElastiCache, deployed by GitHub
 * Actions. Run from this folder (the chat page is read from ../../chat-web/web).
 */
public final class FullStackApp {
    private FullStackApp() {
    }

    public static App buildApp(final App app) {
        Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new ServerlessChecks(app), new NIST80053R5Checks(app), new HIPAASecurityChecks(app));
        Stack stack = new Stack(app, "FullStack", StackProps.builder()
                .env(Environment.builder().account("123456789012").region("us-east-1").build())
                .build());
        IHostedZone hostedZone = HostedZone.fromHostedZoneAttributes(stack, "Zone", HostedZoneAttributes.builder()
                .hostedZoneId("Z0123456789EXAMPLE").zoneName("example.com").build());

        // Valkey (Multi-AZ, TLS, IAM auth) in a new VPC, for sessions and rate-limit counters.
        VpcRedisSessions sessions = new VpcRedisSessions(stack, "Sessions");
        // Anthropic and OpenAI APIs on Bedrock with API keys; in the VPC, so served by API Gateway REST response streaming.
        StreamingLlmProxy proxy = StreamingLlmProxy.Builder.create(stack, "Proxy")
                .sessions(sessions)
                .rateLimits(ProxyRateLimits.builder().requestsPerMinute(60).tokensPerDay(2_000_000).build())
                .build();
        // The chat page on CloudFront with a certificate and DNS records, and /api/* streamed from the proxy.
        SpaFrontend site = SpaFrontend.Builder.create(stack, "Site")
                .source(Path.of("..", "..", "chat-web", "web").toAbsolutePath().normalize().toString())
                .domain(SpaDomain.builder().domainName("chat.example.com").hostedZone(hostedZone).build())
                .api(SpaApiRoute.builder().proxy(proxy).build())
                .build();
        // GitHub Actions in the `production` environment: cdk deploy, upload the page, ship new proxy code.
        GithubOidcDeployer deployer = GithubOidcDeployer.Builder.create(stack, "Deployer")
                .repository("example-org/llm-chat")
                .filters(List.of(TrustFilter.environment("production")))
                .build();
        deployer.grantCdkDeploy();
        deployer.grantAssetDeploy(site.getBucket(), site.getDistribution());
        deployer.grantLambdaDeploy(proxy.getFunction());
        CfnOutput.Builder.create(stack, "SiteUrl").value(site.getUrl()).build();
        return app;
    }

    public static void main(final String[] args) {
        buildApp(new App()).synth();
    }
}
