/** The Kube contract (test/contract/kube.ts) against the real kube-apiserver, through the real client. */
import { connect } from '../../src/kube/index.ts';
import { kubeContract } from '../contract/kube.ts';
import { target } from './support/target.ts';

kubeContract('kube-apiserver', async () => {
  const kube = await connect({ kubeconfig: target().kubeconfig });
  return { kube, close: () => kube.close() };
});
