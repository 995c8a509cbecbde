/**
 * The Kube contract (test/contract/kube.ts) through the real client (src/kube/client.ts) over the
 * HTTP-level fake (test/fakes/kube-http.ts): the client's apply logic on top of the fake's store.
 */
import { kubeContract } from '../contract/kube.ts';
import { FakeApiServer } from '../fakes/kube-http.ts';

kubeContract('KubeClient over the HTTP fake', async () => ({ kube: new FakeApiServer().client('default') }));
