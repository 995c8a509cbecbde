/** The Kube contract (test/contract/kube.ts) against the in-memory fake cluster (test/fakes/kube.ts). */
import { kubeContract } from '../contract/kube.ts';
import { FakeKube } from '../fakes/kube.ts';

kubeContract('in-memory fake', async () => ({ kube: new FakeKube('default') }));
