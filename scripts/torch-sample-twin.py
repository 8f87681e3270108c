"""Sampling reference for sample-bench, on the same card: the refUNet twin's network (the classes of
the shared torch_unet.py, whose path is the first argument; its training bench is not run) as
ancestral DDPM sampling, batch 256, 50 respaced steps of a 1,000-step linear schedule, eager, under
torch.no_grad(). What a step does matches @mtd/sampler's DDPM step: the network once, the posterior
mean from the predicted noise, fresh noise added (none at the last step).
    python3 torch-sample-twin.py .gpu/torch_unet.py
"""
import sys, time, torch

source = open(sys.argv[1]).read()
# Only the model's definition: the file runs its training bench from the cudnn line on.
exec(source[: source.index('torch.backends.cudnn.benchmark')])
torch.backends.cudnn.benchmark = True
dev = 'cuda'
m = UNet().to(dev).eval()
T, S, B = 1000, 50, 256
betas = torch.linspace(1e-4, 0.02, T, dtype=torch.float64)
alpha_bars = torch.cumprod(1 - betas, 0)
ts = torch.linspace(T - 1, 0, S).round().long().tolist()


def run():
    g = torch.Generator(device=dev).manual_seed(0)
    x = torch.randn(B, 1, 32, 32, device=dev, generator=g)
    for i, t in enumerate(ts):
        ab = alpha_bars[t].item()
        ab_prev = alpha_bars[ts[i + 1]].item() if i + 1 < S else 1.0
        beta = 1 - ab / ab_prev
        eps = m(x, torch.full((B,), float(t), device=dev))
        mean = (x - beta / (1 - ab) ** 0.5 * eps) / (1 - beta) ** 0.5
        if i + 1 < S:
            sigma = (beta * (1 - ab_prev) / (1 - ab)) ** 0.5
            x = mean + sigma * torch.randn(x.shape, device=dev, generator=g)
        else:
            x = mean
    return x


for tf32 in [False, True]:
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.allow_tf32 = tf32
    with torch.no_grad():
        run()
        torch.cuda.synchronize()
        t0 = time.time()
        R = 3
        for _ in range(R):
            run()
        torch.cuda.synchronize()
        s = (time.time() - t0) / R
    print(f'torch tf32={tf32} sample B={B} {S} DDPM steps: {s / S * 1000:.1f} ms/step, {B / s:.1f} img/s', flush=True)
