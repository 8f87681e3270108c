"""Independent float64 reference of guided-diffusion's UNetModel (with GLIDE's encoder_kv), in numpy.

It writes the test fixtures in ../src/fixtures: random weights under PyTorch state_dict names and
PyTorch layouts (OIHW convs, [out, in, 1] attention projections, [out, in] linears), inputs in
PyTorch's NCHW layout, and the expected outputs computed here. `unet.reference.test.ts` loads the
weights into the tfjs U-Net by name and compares. The code below follows guided-diffusion's
unet.py / nn.py line by line, in NCHW, without looking at the TypeScript.

    python3 adm_reference.py   # needs numpy only
"""
import json, math, os, struct
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, '..', 'src', 'fixtures')


def write_safetensors(path, tensors, metadata):
    header, blobs, at = {'__metadata__': metadata}, [], 0
    for name in sorted(tensors):
        a = tensors[name]
        dt = {np.float32: 'F32', np.int32: 'I32'}[a.dtype.type]
        b = np.ascontiguousarray(a).astype(a.dtype.newbyteorder('<')).tobytes()
        header[name] = {'dtype': dt, 'shape': list(a.shape), 'data_offsets': [at, at + len(b)]}
        blobs.append(b); at += len(b)
    h = json.dumps(header, separators=(',', ':')).encode()
    h += b' ' * ((8 - len(h) % 8) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(h))); f.write(h); f.write(b''.join(blobs))


class Weights:
    """Creates every parameter (float32, random even where ADM zero-initialises, so every path shows)."""
    def __init__(self, seed):
        self.rng = np.random.default_rng(seed); self.w = {}
    def make(self, name, shape, scale):
        a = (self.rng.standard_normal(shape) * scale).astype(np.float32); self.w[name] = a; return a.astype(np.float64)
    def conv(self, name, cin, cout, k):
        return self.make(name + '.weight', (cout, cin, k, k), 1 / math.sqrt(cin * k * k)), self.make(name + '.bias', (cout,), 0.1)
    def conv1d(self, name, cin, cout):
        return self.make(name + '.weight', (cout, cin, 1), 1 / math.sqrt(cin)), self.make(name + '.bias', (cout,), 0.1)
    def linear(self, name, cin, cout):
        return self.make(name + '.weight', (cout, cin), 1 / math.sqrt(cin)), self.make(name + '.bias', (cout,), 0.1)
    def norm(self, name, c):
        g = (1 + self.rng.standard_normal(c) * 0.2).astype(np.float32); self.w[name + '.weight'] = g
        return g.astype(np.float64), self.make(name + '.bias', (c,), 0.2)


def conv2d(x, wb, stride=1):
    w, b = wb; n, c, h, wd = x.shape; o, _, k, _ = w.shape; p = (k - 1) // 2
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    ho, wo = (h + 2 * p - k) // stride + 1, (wd + 2 * p - k) // stride + 1
    out = np.zeros((n, o, ho, wo))
    for dy in range(k):
        for dx in range(k):
            patch = xp[:, :, dy:dy + stride * ho:stride, dx:dx + stride * wo:stride]
            out += np.einsum('nchw,oc->nohw', patch, w[:, :, dy, dx])
    return out + b[None, :, None, None]


def conv1d(x, wb):  # x [N, C, L], kernel size 1
    w, b = wb
    return np.einsum('ncl,oc->nol', x, w[:, :, 0]) + b[None, :, None]


def linear(x, wb):
    w, b = wb
    return x @ w.T + b


def group_norm(x, gb, groups, eps=1e-5):
    g, b = gb; n, c = x.shape[:2]
    xg = x.reshape(n, groups, -1)
    mean = xg.mean(-1, keepdims=True); var = xg.var(-1, keepdims=True)
    y = ((xg - mean) / np.sqrt(var + eps)).reshape(x.shape)
    shape = (1, c) + (1,) * (x.ndim - 2)
    return y * g.reshape(shape) + b.reshape(shape)


def silu(x):
    return x / (1 + np.exp(-x))


def timestep_embedding(t, dim, max_period=10000):
    half = dim // 2
    freqs = np.exp(-math.log(max_period) * np.arange(half, dtype=np.float64) / half)
    args = t[:, None].astype(np.float64) * freqs[None]
    emb = np.concatenate([np.cos(args), np.sin(args)], -1)
    if dim % 2:
        emb = np.concatenate([emb, np.zeros_like(emb[:, :1])], -1)
    return emb


def softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True)); return e / e.sum(-1, keepdims=True)


class Model:
    def __init__(self, cfg, seed):
        self.cfg = cfg; W = Weights(seed); self.W = W
        mc, ted, groups = cfg['baseChannels'], cfg['timeEmbedDim'], cfg['groups']
        self.time_embed = (W.linear('time_embed.0', mc, ted), W.linear('time_embed.2', ted, ted))
        self.label_emb = W.make('label_emb.weight', (cfg['numClasses'] + 1, ted), 1.0) if cfg.get('numClasses') else None
        attn_ds = [cfg['imageSize'] // r for r in cfg['attentionResolutions']]

        def res(name, cin, cout):
            return ('res', dict(
                in_norm=W.norm(name + '.in_layers.0', cin), in_conv=W.conv(name + '.in_layers.2', cin, cout, 3),
                emb=W.linear(name + '.emb_layers.1', ted, 2 * cout if cfg['useScaleShiftNorm'] else cout),
                out_norm=W.norm(name + '.out_layers.0', cout), out_conv=W.conv(name + '.out_layers.3', cout, cout, 3),
                skip=W.conv(name + '.skip_connection', cin, cout, 1) if cin != cout else None))

        def attn(name, c):
            heads = c // cfg['numHeadChannels'] if cfg.get('numHeadChannels') else cfg['numHeads']
            return ('attn', dict(heads=heads, norm=W.norm(name + '.norm', c), qkv=W.conv1d(name + '.qkv', c, 3 * c),
                                 proj_out=W.conv1d(name + '.proj_out', c, c),
                                 encoder_kv=W.conv1d(name + '.encoder_kv', cfg['contextDim'], 2 * c) if cfg.get('contextDim') else None))

        self.input_blocks = [[('conv', W.conv('input_blocks.0.0', cfg['inChannels'] + cfg.get('extraChannels', 0), mc, 3))]]
        chans = [mc]; ch = mc; ds = 1
        for level, mult in enumerate(cfg['channelMults']):
            for _ in range(cfg['numResBlocks']):
                i = len(self.input_blocks); layers = [res(f'input_blocks.{i}.0', ch, mult * mc)]; ch = mult * mc
                if ds in attn_ds: layers.append(attn(f'input_blocks.{i}.1', ch))
                self.input_blocks.append(layers); chans.append(ch)
            if level != len(cfg['channelMults']) - 1:
                i = len(self.input_blocks)
                self.input_blocks.append([('down', W.conv(f'input_blocks.{i}.0.op', ch, ch, 3))]); chans.append(ch); ds *= 2
        self.middle_block = [res('middle_block.0', ch, ch), attn('middle_block.1', ch), res('middle_block.2', ch, ch)]
        self.output_blocks = []
        for level, mult in list(enumerate(cfg['channelMults']))[::-1]:
            for i in range(cfg['numResBlocks'] + 1):
                j = len(self.output_blocks); layers = [res(f'output_blocks.{j}.0', ch + chans.pop(), mc * mult)]; ch = mc * mult
                if ds in attn_ds: layers.append(attn(f'output_blocks.{j}.1', ch))
                if level and i == cfg['numResBlocks']:
                    layers.append(('up', W.conv(f'output_blocks.{j}.{len(layers)}.conv', ch, ch, 3))); ds //= 2
                self.output_blocks.append(layers)
        self.out_norm = W.norm('out.0', ch)
        self.out_conv = W.conv('out.2', ch, cfg.get('outChannels', cfg['inChannels']), 3)

    def res_block(self, x, emb, p):
        g = self.cfg['groups']
        h = conv2d(silu(group_norm(x, p['in_norm'], g)), p['in_conv'])
        emb_out = linear(silu(emb), p['emb'])[:, :, None, None]
        if self.cfg['useScaleShiftNorm']:
            scale, shift = np.split(emb_out, 2, axis=1)
            h = group_norm(h, p['out_norm'], g) * (1 + scale) + shift
            h = conv2d(silu(h), p['out_conv'])
        else:
            h = conv2d(silu(group_norm(h + emb_out, p['out_norm'], g)), p['out_conv'])
        return (x if p['skip'] is None else conv2d(x, p['skip'])) + h

    def attention(self, x, p, encoder_out):
        b, c = x.shape[:2]; heads = p['heads']; ch = c // heads
        xf = x.reshape(b, c, -1)
        qkv = conv1d(group_norm(xf, p['norm'], self.cfg['groups']), p['qkv'])
        length = qkv.shape[-1]
        q, k, v = np.split(qkv.reshape(b * heads, ch * 3, length), 3, axis=1)
        if encoder_out is not None:
            ekv = conv1d(encoder_out, p['encoder_kv'])
            ek, ev = np.split(ekv.reshape(b * heads, ch * 2, -1), 2, axis=1)
            k = np.concatenate([ek, k], -1); v = np.concatenate([ev, v], -1)
        scale = 1 / math.sqrt(math.sqrt(ch))
        weight = softmax(np.einsum('bct,bcs->bts', q * scale, k * scale))
        a = np.einsum('bts,bcs->bct', weight, v).reshape(b, -1, length)
        return (xf + conv1d(a, p['proj_out'])).reshape(x.shape)

    def forward(self, x, t, y=None, context=None, extra=None):
        emb = linear(silu(linear(timestep_embedding(t, self.cfg['baseChannels']), self.time_embed[0])), self.time_embed[1])
        if self.label_emb is not None:
            emb = emb + self.label_emb[y]
        encoder_out = None if context is None else context.transpose(0, 2, 1)  # GLIDE's [B, D, L]

        def run(layer, h):
            kind, p = layer
            if kind == 'res': return self.res_block(h, emb, p)
            if kind == 'attn': return self.attention(h, p, encoder_out)
            if kind == 'conv': return conv2d(h, p)
            if kind == 'down': return conv2d(h, p, 2)
            if kind == 'up': return conv2d(h.repeat(2, axis=2).repeat(2, axis=3), p)

        h = x if extra is None else np.concatenate([x, extra], 1); hs = []
        for block in self.input_blocks:
            for layer in block: h = run(layer, h)
            hs.append(h)
        for layer in self.middle_block: h = run(layer, h)
        middle = h
        for block in self.output_blocks:
            h = np.concatenate([h, hs.pop()], 1)
            for layer in block: h = run(layer, h)
        features = h
        return conv2d(silu(group_norm(h, self.out_norm, self.cfg['groups'])), self.out_conv), middle, features


CONFIGS = {
    # Every option at once: classes, context, extra input channels, scale-shift norm, 2 heads,
    # attention at two resolutions, three levels.
    'adm-full': dict(imageSize=8, inChannels=2, extraChannels=1, baseChannels=8, channelMults=[1, 2, 2], numResBlocks=1,
                     attentionResolutions=[4, 2], numHeads=2, groups=4, useScaleShiftNorm=True, timeEmbedDim=16,
                     numClasses=3, contextDim=6),
    # The refUNet flavour (additive time embedding), numHeadChannels, more output than input channels.
    'adm-plain': dict(imageSize=8, inChannels=1, outChannels=3, baseChannels=6, channelMults=[1, 2], numResBlocks=2,
                      attentionResolutions=[4], numHeadChannels=6, groups=3, useScaleShiftNorm=False, timeEmbedDim=12),
}

if __name__ == '__main__':
    os.makedirs(OUT, exist_ok=True)
    for i, (name, cfg) in enumerate(CONFIGS.items()):
        m = Model(cfg, seed=100 + i); rng = np.random.default_rng(200 + i); B = 2; S = cfg['imageSize']
        x = rng.standard_normal((B, cfg['inChannels'], S, S)).astype(np.float32)
        t = np.array([0, 417], dtype=np.int32)
        tensors = {**m.W.w, 'input.x': x, 'input.t': t}
        kw = {}
        if cfg.get('numClasses'):
            y = np.array([1, cfg['numClasses']], dtype=np.int32); tensors['input.y'] = y; kw['y'] = y
        if cfg.get('contextDim'):
            c = rng.standard_normal((B, 3, cfg['contextDim'])).astype(np.float32); tensors['input.context'] = c; kw['context'] = c.astype(np.float64)
        if cfg.get('extraChannels'):
            e = rng.standard_normal((B, cfg['extraChannels'], S, S)).astype(np.float32); tensors['input.extra'] = e; kw['extra'] = e.astype(np.float64)
        eps, middle, features = m.forward(x.astype(np.float64), t, **kw)
        tensors['expected.eps'] = eps.astype(np.float32)
        tensors['expected.middle'] = middle.astype(np.float32)
        tensors['expected.decoderFeatures'] = features.astype(np.float32)
        write_safetensors(os.path.join(OUT, name + '.safetensors'), tensors, {'config': json.dumps(cfg), 'layout': 'NCHW'})
        print(name, 'params', sum(a.size for a in m.W.w.values()), 'eps std', float(eps.std()))
