import * as tf from '@tensorflow/tfjs';
import * as wasm from '@tensorflow/tfjs-backend-wasm';
import { create, globals } from 'webgpu';
Object.assign(globalThis, globals);
globalThis.navigator = { gpu: create([]) };
await import('@tensorflow/tfjs-backend-webgpu');
wasm.setWasmPaths(new URL('./node_modules/@tensorflow/tfjs-backend-wasm/dist/', import.meta.url).pathname);
function ref(x, dy, size, hpc, ac) {
  const [B,H,W,C]=x.shape; const [h2,w2]=size; const d=dy.arraySync().flat(3); const out=new Float64Array(B*H*W*C);
  const eff=(i,o)=> (ac && o>1)? (i-1)/(o-1) : i/o;
  const rr=eff(H,h2), cr=eff(W,w2);
  const src=(k,ratio,n)=>{const f=hpc? ratio*(k+0.5): ratio*k; let s=Math.min(n-1, ac? Math.round(f): Math.floor(f)); if(hpc) s=Math.max(0,s); return s;};
  for(let b=0;b<B;b++)for(let r=0;r<h2;r++)for(let c=0;c<w2;c++)for(let k=0;k<C;k++) out[((b*H+src(r,rr,H))*W+src(c,cr,W))*C+k]+=d[((b*h2+r)*w2+c)*C+k];
  return out;
}
await tf.setBackend('cpu');
const cases=[[[3,5,7,2],[10,14],false,false],[[3,5,7,2],[10,14],true,false],[[2,4,4,3],[7,9],false,true],[[1,4,4,1],[8,8],false,false],[[2,3,3,1],[5,4],true,false]];
for (const be of ['cpu','wasm','webgpu']) {
  await tf.setBackend(be);
  for (const [shape,size,hpc,ac] of cases) {
    const x=tf.randomNormal(shape, 0,1,'float32',1); const dy=tf.randomNormal([shape[0],...size,shape[3]],0,1,'float32',2);
    const g=tf.grad(xx=>tf.sum(tf.mul(tf.image.resizeNearestNeighbor(xx,size,ac,hpc),dy)))(x);
    const got=await g.data(); const dyc = tf.tensor(await dy.data(), dy.shape);
    const be2=tf.getBackend(); 
    const r=ref(x,{arraySync:()=>[[[Array.from(dyc.dataSync())]]]},size,hpc,ac); // hack below
    let m=0; for(let i=0;i<r.length;i++) m=Math.max(m,Math.abs(r[i]-got[i]));
    console.log(be, JSON.stringify([shape,size,hpc,ac]), 'maxabs', m.toFixed(5));
  }
}
process.exit(0);
