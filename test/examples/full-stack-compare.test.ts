import { compareTemplates } from '../bindings/full-stack-compare';

const fn = (key: string) => ({ Type: 'AWS::Lambda::Function', Properties: { Code: { S3Key: key } } });
const VERSION_A = 'ProxyFunctionCurrentVersionC0A89729ffcce28e1a8925144b0de8fe03f0326a';
const VERSION_B = 'ProxyFunctionCurrentVersionC0A897295034839a2ea4703b02a4ed4e8f475672';

describe('full-stack template comparison (TypeScript vs Python)', () => {
  test('reports resources missing, extra or of another type, and differing outputs', () => {
    const ts = {
      Resources: { Bucket: { Type: 'AWS::S3::Bucket' }, Role: { Type: 'AWS::IAM::Role' }, Topic: { Type: 'AWS::SNS::Topic' } },
      Outputs: { SiteUrl: {}, RoleArn: {} },
    };
    const py = {
      Resources: { Bucket: { Type: 'AWS::S3::Bucket' }, Role: { Type: 'AWS::IAM::Policy' }, Queue: { Type: 'AWS::SQS::Queue' } },
      Outputs: { SiteUrl: {}, Other: {} },
    };
    expect(compareTemplates(ts, py, 'Python').differences).toEqual([
      'missing in Python: Topic (AWS::SNS::Topic)',
      'only in Python: Queue (AWS::SQS::Queue)',
      'type of Role: TypeScript AWS::IAM::Role, Python AWS::IAM::Policy',
      'output missing in Python: RoleArn',
      'output only in Python: Other',
    ]);
  });

  test('finds no difference between identical templates', () => {
    const t = { Resources: { Fn: fn('a.zip'), [VERSION_A]: { Type: 'AWS::Lambda::Version' } }, Outputs: { SiteUrl: {} } };
    expect(compareTemplates(t, JSON.parse(JSON.stringify(t)), 'Python')).toEqual({ differences: [], codeHashPairs: [] });
  });

  test('pairs content-hashed ids by stem only when the two templates bundle different Lambda code', () => {
    const ts = { Resources: { Fn: fn('new.zip'), [VERSION_A]: { Type: 'AWS::Lambda::Version' } } };
    const pyOtherCode = { Resources: { Fn: fn('old.zip'), [VERSION_B]: { Type: 'AWS::Lambda::Version' } } };
    expect(compareTemplates(ts, pyOtherCode, 'Python')).toEqual({ differences: [], codeHashPairs: [`${VERSION_A} ~ ${VERSION_B}`] });

    const pySameCode = { Resources: { Fn: fn('new.zip'), [VERSION_B]: { Type: 'AWS::Lambda::Version' } } };
    expect(compareTemplates(ts, pySameCode, 'Python').differences).toEqual([
      `missing in Python: ${VERSION_A} (AWS::Lambda::Version)`,
      `only in Python: ${VERSION_B} (AWS::Lambda::Version)`,
    ]);
  });
});
