import { Token } from 'aws-cdk-lib';

/** The characters IAM's `StringLike` operator treats as wildcards. */
const WILDCARD = /[*?]/;

/** Characters git forbids in branch and tag names (other than the `*` and `?` wildcards), and whitespace. */
const BAD_REF_CHARS = /[\s~^:\\[\x00-\x1f\x7f]/;

/**
 * Which workflow runs of the repository may assume the deploy role: one filter becomes one allowed value of the
 * token's `sub` (subject) claim.
 *
 * A filter without a wildcard is matched exactly (`StringEquals`); a filter with `*` or `?` is matched with
 * `StringLike`, where `*` matches any run of characters (including `/`) and `?` a single character.
 *
 * `TrustFilter.branch('main')` allows the subject `repo:owner/repo:ref:refs/heads/main`, `TrustFilter.tag('v*')` the
 * subjects matching `repo:owner/repo:ref:refs/tags/v*`, `TrustFilter.environment('production')` the subject
 * `repo:owner/repo:environment:production`.
 */
export class TrustFilter {
  /**
   * Runs triggered on a branch (push, workflow_dispatch, schedule… on that branch).
   *
   * @param name the branch name without `refs/heads/`, e.g. `main`; `*` and `?` are wildcards (`release/*`)
   */
  public static branch(name: string): TrustFilter {
    TrustFilter.checkRefName('TrustFilter.branch', name, 'refs/heads/');
    return new TrustFilter('branch', name, `ref:refs/heads/${name}`);
  }

  /**
   * Runs triggered by pushing a tag.
   *
   * @param name the tag name without `refs/tags/`, e.g. `v1.2.3`; `*` and `?` are wildcards (`v*`)
   */
  public static tag(name: string): TrustFilter {
    TrustFilter.checkRefName('TrustFilter.tag', name, 'refs/tags/');
    return new TrustFilter('tag', name, `ref:refs/tags/${name}`);
  }

  /**
   * Jobs that reference a GitHub deployment environment (`environment: production`). When a job names an environment,
   * GitHub puts the environment, not the branch, in the subject, so environment protection rules (required reviewers,
   * branch restrictions) decide who can deploy.
   *
   * @param name the environment name exactly as configured in the repository (IAM compares it case-sensitively)
   */
  public static environment(name: string): TrustFilter {
    if (Token.isUnresolved(name)) {
      throw new Error('TrustFilter.environment needs the environment name as a literal string, not a token: the subject claim is built at synth time.');
    }
    if (name.length === 0 || name.trim() !== name) {
      throw new Error(`TrustFilter.environment got '${name}': pass the environment name exactly as it is configured in GitHub, without surrounding spaces.`);
    }
    if (name.length > 255) {
      throw new Error(`TrustFilter.environment got a ${name.length}-character name: GitHub environment names are at most 255 characters.`);
    }
    if (/^[*?]+$/.test(name)) {
      throw new Error(
        `TrustFilter.environment('${name}') would trust a job in any environment: name the environment, ` +
        'or add one filter per environment.',
      );
    }
    return new TrustFilter('environment', name, `environment:${name}`);
  }

  /**
   * Runs triggered by a `pull_request` event (GitHub uses the same subject for every pull request). Prefer an
   * environment filter for anything that deploys: every contributor who can open a pull request from a branch of this
   * repository can run a workflow with this subject. (Workflows run for pull requests from forks get no OIDC token.)
   */
  public static pullRequest(): TrustFilter {
    return new TrustFilter('pullRequest', undefined, 'pull_request');
  }

  /**
   * Any other subject: the part of the `sub` claim after `repo:owner/repo:`. Use it for contexts the other filters do
   * not cover, or when the repository customizes its subject template with extra claims after the repository, e.g.
   * `environment:production:job_workflow_ref:octo-org/shared/.github/workflows/deploy.yml@refs/heads/main`.
   *
   * @param subjectSuffix the subject after `repo:owner/repo:`; `*` and `?` are wildcards
   */
  public static custom(subjectSuffix: string): TrustFilter {
    if (Token.isUnresolved(subjectSuffix)) {
      throw new Error('TrustFilter.custom needs the subject as a literal string, not a token: the subject claim is built at synth time.');
    }
    if (subjectSuffix.length === 0 || /\s/.test(subjectSuffix)) {
      throw new Error(`TrustFilter.custom got '${subjectSuffix}': pass the non-empty part of the subject after 'repo:owner/repo:', without spaces.`);
    }
    if (subjectSuffix.startsWith('repo:') || subjectSuffix.startsWith(':')) {
      throw new Error(
        `TrustFilter.custom('${subjectSuffix}') must not repeat the repository: pass only the part after 'repo:owner/repo:' ` +
        "(e.g. 'environment:production'); the deployer adds the repository prefix itself.",
      );
    }
    if (/^[*?:]+$/.test(subjectSuffix)) {
      throw new Error(
        `TrustFilter.custom('${subjectSuffix}') would trust every workflow run of the repository: ` +
        'use TrustFilter.branch, TrustFilter.tag or TrustFilter.environment to say which runs may deploy.',
      );
    }
    return new TrustFilter('custom', subjectSuffix, subjectSuffix);
  }

  private static checkRefName(method: string, name: string, prefix: string): void {
    if (Token.isUnresolved(name)) {
      throw new Error(`${method} needs the name as a literal string, not a token: the subject claim is built at synth time.`);
    }
    if (name.startsWith('refs/')) {
      throw new Error(`${method}('${name}') got a full ref: pass the name without '${prefix}' (e.g. '${name.replace(/^refs\/(heads|tags)\//, '')}').`);
    }
    if (name.length === 0 || BAD_REF_CHARS.test(name) || name.includes('..') || name.startsWith('/') || name.endsWith('/') ||
      name.endsWith('.lock') || name.startsWith('-')) {
      throw new Error(
        `${method}('${name}') is not a valid git ref name: it must be non-empty and must not contain spaces, '~', '^', ':', '\\', '[', '..', ` +
        "start with '-' or '/', or end with '/' or '.lock'. Use '*' or '?' as wildcards.",
      );
    }
  }

  /**
   * The part of the `sub` claim after the repository, e.g. `ref:refs/heads/main`.
   */
  public readonly subjectSuffix: string;

  /**
   * Whether the filter contains a wildcard and is therefore matched with `StringLike` instead of `StringEquals`.
   */
  public readonly usesWildcard: boolean;

  /** @internal the kind of filter, for the workflow snippet */
  public readonly _kind: string;

  /** @internal the branch, tag or environment name the filter was made from */
  public readonly _name?: string;

  private constructor(kind: string, name: string | undefined, subjectSuffix: string) {
    this._kind = kind;
    this._name = name;
    this.subjectSuffix = subjectSuffix;
    this.usesWildcard = WILDCARD.test(subjectSuffix);
  }
}
