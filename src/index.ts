export class Hello {
  public sayHello() {
    return 'hello, world!';
  }
}
export * from './spa-frontend';
