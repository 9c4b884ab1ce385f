package smoke;

import io.github.cdkserverlessllm.GithubOidcDeployer;
import io.github.cdkserverlessllm.TrustFilter;
import java.util.List;
import java.util.Map;
import software.amazon.awscdk.App;
import software.amazon.awscdk.Environment;
import software.amazon.awscdk.Stack;
import software.amazon.awscdk.StackProps;
import software.amazon.awscdk.assertions.Match;
import software.amazon.awscdk.assertions.Template;
import software.amazon.awscdk.services.ecr.Repository;
import software.amazon.awscdk.services.iam.Grant;

/**
 * Binding smoke test: adopt the account's GitHub OIDC provider with the static accountProviderArn, trust pull requests
 * and one branch, grant an ECR push, and check the synthesized template. Any failed assertion throws, and Maven fails.
 */
public final class SmokeApp {
    private static final String SUB = "token.actions.githubusercontent.com:sub";
    private static final String AUD = "token.actions.githubusercontent.com:aud";

    private SmokeApp() {
    }

    public static void main(final String[] args) {
        App app = new App();
        Stack stack = new Stack(app, "JavaBindingStack", StackProps.builder()
                .env(Environment.builder().account("111111111111").region("eu-west-1").build())
                .build());

        GithubOidcDeployer deployer = GithubOidcDeployer.Builder.create(stack, "Deployer")
                .repository("octo-org/octo-repo")
                .filters(List.of(TrustFilter.branch("main"), TrustFilter.pullRequest()))
                .existingProviderArn(GithubOidcDeployer.accountProviderArn(stack))
                .roleName("github-deploy")
                .build();
        Grant grant = deployer.grantEcrPush(new Repository(stack, "Images"));
        if (!grant.getSuccess()) {
            throw new AssertionError("grantEcrPush did not add its statements");
        }

        Template template = Template.fromStack(stack);
        template.resourceCountIs("AWS::IAM::OIDCProvider", 0);
        template.hasResourceProperties("AWS::IAM::Role", Map.of(
                "RoleName", "github-deploy",
                "AssumeRolePolicyDocument", Map.of("Statement", List.of(Map.of(
                        "Action", "sts:AssumeRoleWithWebIdentity",
                        "Effect", "Allow",
                        "Principal", Map.of("Federated", Map.of("Fn::Join", List.of("", List.of(
                                "arn:", Map.of("Ref", "AWS::Partition"),
                                ":iam::111111111111:oidc-provider/token.actions.githubusercontent.com")))),
                        "Condition", Map.of("StringEquals", Map.of(
                                AUD, "sts.amazonaws.com",
                                SUB, List.of("repo:octo-org/octo-repo:ref:refs/heads/main",
                                        "repo:octo-org/octo-repo:pull_request"))))))));
        template.hasResourceProperties("AWS::IAM::ManagedPolicy", Map.of(
                "PolicyDocument", Map.of("Statement", Match.arrayWith(List.of(
                        Map.of("Action", "ecr:GetAuthorizationToken", "Effect", "Allow", "Resource", "*"),
                        Match.objectLike(Map.of("Action", Match.arrayWith(List.of("ecr:PutImage")))))))));

        if (deployer.getProviderCreated()) {
            throw new AssertionError("the deployer created a provider although it was given existingProviderArn");
        }
        if (!deployer.getWorkflowSnippet().contains("  pull_request: {}")) {
            throw new AssertionError("the workflow snippet does not trigger on pull requests:\n" + deployer.getWorkflowSnippet());
        }

        // Misuse is a synth-time error with the construct's own message, across the language boundary.
        try {
            GithubOidcDeployer.Builder.create(stack, "Bad").repository("octo-org/octo-repo").filters(List.of()).build();
            throw new AssertionError("a deployer without filters was accepted");
        } catch (RuntimeException error) {
            if (!error.getMessage().contains("at least one entry in `filters`")) {
                throw error;
            }
        }

        System.out.println("java: trust, adopted provider, ECR grant and workflow snippet as expected");
    }
}
