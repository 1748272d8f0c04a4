"""The benchmark workloads: each a plain numpy function, its data, and a
careful hand-written `f_and_grad` (the floor every tool is compared with).

The plain functions are what symgrad differentiates, and (with the global `np`
swapped for `autograd.numpy` or `jax.numpy`) what autograd and JAX trace.
PyTorch needs `dim=`/`keepdim=`, so it gets its own short versions in
`torch_versions()`.  Nothing here depends on symgrad.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

LOG_2PI = 1.8378770664093453  # math.log(2 * math.pi)


@dataclass
class Workload:
    name: str
    fun: Callable[..., Any]  # the plain numpy function
    args: tuple  # arguments, in the function's order
    wrt: tuple[int, ...]  # indices of the differentiated arguments
    hand: Callable[..., Any]  # hand-written f_and_grad(*args) -> (value, grads)
    torch_fun: Callable[..., Any] | None = None
    note: str = ""
    extra: dict = field(default_factory=dict)
    skip: dict = field(default_factory=dict)  # peer column -> why it is not run


# --- scalar quadratics ----------------------------------------------------


def square(x):
    return x**2


def square_hand(x):
    return x * x, 2.0 * x


def poly(x):
    return x * x + 3 * x + 1


def poly_hand(x):
    return x * x + 3 * x + 1, 2 * x + 3


# --- linear regression MSE ------------------------------------------------


def mse(w, b, X, Y):
    return np.mean((w * X + b - Y) ** 2)


def mse_hand(w, b, X, Y):
    r = w * X + b - Y
    n = r.size
    return np.dot(r, r) / n, (2.0 * np.dot(r, X) / n, 2.0 * r.sum() / n)


# --- 2-layer MLP, softmax cross-entropy -----------------------------------


def mlp(W1, b1, W2, b2, X, Y):
    h = np.tanh(X @ W1 + b1)
    z = h @ W2 + b2
    s = z - np.max(z, axis=1, keepdims=True)
    logp = s - np.log(np.sum(np.exp(s), axis=1, keepdims=True))
    return -np.mean(np.sum(Y * logp, axis=1))


def mlp_hand(W1, b1, W2, b2, X, Y):
    n = X.shape[0]
    h = np.tanh(X @ W1 + b1)
    z = h @ W2 + b2
    s = z - z.max(axis=1, keepdims=True)
    e = np.exp(s)
    se = e.sum(axis=1, keepdims=True)
    logp = s - np.log(se)
    value = -np.sum(Y * logp) / n
    # rows of Y are one-hot (sum to 1), so dL/dz = (softmax - Y) / n
    dz = (e / se - Y) / n
    dh = dz @ W2.T
    da = dh * (1.0 - h * h)
    return value, (X.T @ da, da.sum(axis=0), h.T @ dz, dz.sum(axis=0))


# --- Rosenbrock -------------------------------------------------------------


def rosenbrock(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)


def rosenbrock_hand(x):
    head = x[:-1]
    a = x[1:] - head * head
    b = 1 - head
    value = np.sum(100.0 * a * a + b * b)
    g = np.zeros_like(x)
    g[1:] = 200.0 * a
    g[:-1] -= 400.0 * a * head + 2.0 * b
    return value, g


# --- Gaussian mixture log-likelihood ----------------------------------------


def gmm(mu, log_s, logits, x):
    diff = (x[:, None, :] - mu[None, :, :]) * np.exp(-log_s)[None, :, :]
    logp = -0.5 * np.sum(diff**2, axis=2) - np.sum(log_s, axis=1)
    logp = logp - 0.5 * x.shape[1] * LOG_2PI
    lmax = np.max(logits)
    logw = logits - lmax - np.log(np.sum(np.exp(logits - lmax)))
    a = logp + logw
    m = np.max(a, axis=1, keepdims=True)
    ll = m[:, 0] + np.log(np.sum(np.exp(a - m), axis=1))
    return np.sum(ll)


def gmm_hand(mu, log_s, logits, x):
    n, d = x.shape
    inv_s = np.exp(-log_s)
    diff = (x[:, None, :] - mu) * inv_s
    logp = -0.5 * np.einsum("nkd,nkd->nk", diff, diff) - log_s.sum(axis=1)
    logp -= 0.5 * d * LOG_2PI
    ew = np.exp(logits - logits.max())
    w = ew / ew.sum()
    a = logp + np.log(w)
    m = a.max(axis=1, keepdims=True)
    e = np.exp(a - m)
    se = e.sum(axis=1, keepdims=True)
    value = np.sum(m[:, 0] + np.log(se[:, 0]))
    r = e / se  # responsibilities, dll/da
    rsum = r.sum(axis=0)
    rd = r[:, :, None] * diff
    g_mu = rd.sum(axis=0) * inv_s
    g_log_s = np.einsum("nkd,nkd->kd", rd, diff) - rsum[:, None]
    g_logits = rsum - n * w
    return value, (g_mu, g_log_s, g_logits)


# --- loops ------------------------------------------------------------------

STEPS = 100


def recurrence(x, a, b):
    for _ in range(100):
        x = np.sin(x) * a + b
    return x


def recurrence_hand(x, a, b):
    xs = []
    sin, cos = math.sin, math.cos
    for _ in range(STEPS):
        xs.append(x)
        x = sin(x) * a + b
    x_bar, a_bar, b_bar = 1.0, 0.0, 0.0
    for xt in reversed(xs):
        a_bar += x_bar * sin(xt)
        b_bar += x_bar
        x_bar = x_bar * a * cos(xt)
    return x, (a_bar, b_bar)


def lstm(W, b, X):
    H = W.shape[0] // 4
    h = np.zeros(H)
    c = np.zeros(H)
    for x in X:
        g = W @ np.concatenate([x, h]) + b
        i = 1.0 / (1.0 + np.exp(-g[:H]))
        f = 1.0 / (1.0 + np.exp(-g[H : 2 * H]))
        o = 1.0 / (1.0 + np.exp(-g[2 * H : 3 * H]))
        u = np.tanh(g[3 * H :])
        c = f * c + i * u
        h = o * np.tanh(c)
    return np.sum(h * h)


def lstm_hand(W, b, X):
    H = W.shape[0] // 4
    D = X.shape[1]
    h = np.zeros(H)
    c = np.zeros(H)
    tape = []
    for x in X:
        xh = np.concatenate([x, h])
        g = W @ xh + b
        s = 1.0 / (1.0 + np.exp(-g[: 3 * H]))
        u = np.tanh(g[3 * H :])
        c_prev = c
        c = s[H : 2 * H] * c + s[:H] * u
        tc = np.tanh(c)
        h = s[2 * H :] * tc
        tape.append((xh, s, u, c_prev, tc))
    value = float(h @ h)
    dW = np.zeros_like(W)
    db = np.zeros_like(b)
    dh = 2.0 * h
    dc = np.zeros(H)
    dg = np.empty(4 * H)
    for xh, s, u, c_prev, tc in reversed(tape):
        i, f, o = s[:H], s[H : 2 * H], s[2 * H :]
        dc = dc + dh * o * (1.0 - tc * tc)
        dg[:H] = dc * u
        dg[H : 2 * H] = dc * c_prev
        dg[2 * H : 3 * H] = dh * tc
        dg[: 3 * H] *= s * (1.0 - s)
        dg[3 * H :] = dc * i * (1.0 - u * u)
        dW += np.outer(dg, xh)
        db += dg
        dh = W[:, D:].T @ dg
        dc = dc * f
    return value, (dW, db)


# --- data -------------------------------------------------------------------


def build() -> list[Workload]:
    rng = np.random.default_rng(0)
    X = np.arange(-5, 5, 0.1)
    Y = -5 * X + 0.4 * rng.standard_normal(X.shape)

    Xb = rng.standard_normal((256, 64))
    labels = rng.integers(0, 10, 256)
    Yb = np.eye(10)[labels]
    W1 = rng.standard_normal((64, 128)) / 8.0
    b1 = 0.1 * rng.standard_normal(128)
    W2 = rng.standard_normal((128, 10)) / math.sqrt(128)
    b2 = 0.1 * rng.standard_normal(10)

    xr = rng.uniform(-2, 2, 1000)

    d, K, n = 10, 25, 1000
    xg = rng.standard_normal((n, d))
    mu = rng.standard_normal((K, d))
    log_s = 0.3 * rng.standard_normal((K, d))
    logits = rng.standard_normal(K)

    H, D, T = 32, 16, 128
    W_lstm = rng.standard_normal((4 * H, D + H)) / math.sqrt(D + H)
    b_lstm = 0.1 * rng.standard_normal(4 * H)
    X_lstm = rng.standard_normal((T, D))

    return [
        Workload("x**2 (scalar)", square, (5.0,), (0,), square_hand),
        Workload("x*x+3x+1 (scalar)", poly, (4.0,), (0,), poly_hand),
        Workload("linreg MSE n=100", mse, (-10.0, -20.0, X, Y), (0, 1), mse_hand),
        Workload(
            "MLP 256x64-128-10",
            mlp,
            (W1, b1, W2, b2, Xb, Yb),
            (0, 1, 2, 3),
            mlp_hand,
        ),
        Workload("Rosenbrock n=1000", rosenbrock, (xr,), (0,), rosenbrock_hand),
        Workload(
            "GMM n=1000 K=25 d=10",
            gmm,
            (mu, log_s, logits, xg),
            (0, 1, 2),
            gmm_hand,
        ),
        Workload(
            f"sin recurrence x{STEPS} (loop)",
            recurrence,
            (0.5, 0.9, 0.1),
            (1, 2),
            recurrence_hand,
        ),
        Workload(
            f"LSTM T={T} H={H} D={D} (loop)",
            lstm,
            (W_lstm, b_lstm, X_lstm),
            (0, 1),
            lstm_hand,
            skip={
                "jax.jit": "XLA takes minutes to compile the 128 unrolled steps "
                "(JAX code would use lax.scan instead)"
            },
        ),
    ]


def torch_versions(torch: Any) -> dict[str, Callable[..., Any]]:
    """The same functions written with torch ops (dim=, keepdim=)."""

    def t_mse(w, b, X, Y):
        return torch.mean((w * X + b - Y) ** 2)

    def t_mlp(W1, b1, W2, b2, X, Y):
        h = torch.tanh(X @ W1 + b1)
        z = h @ W2 + b2
        s = z - torch.amax(z, dim=1, keepdim=True)
        logp = s - torch.log(torch.sum(torch.exp(s), dim=1, keepdim=True))
        return -torch.mean(torch.sum(Y * logp, dim=1))

    def t_rosenbrock(x):
        return torch.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)

    def t_gmm(mu, log_s, logits, x):
        diff = (x[:, None, :] - mu[None, :, :]) * torch.exp(-log_s)[None, :, :]
        logp = -0.5 * torch.sum(diff**2, dim=2) - torch.sum(log_s, dim=1)
        logp = logp - 0.5 * x.shape[1] * LOG_2PI
        lmax = torch.amax(logits)
        logw = logits - lmax - torch.log(torch.sum(torch.exp(logits - lmax)))
        a = logp + logw
        m = torch.amax(a, dim=1, keepdim=True)
        ll = m[:, 0] + torch.log(torch.sum(torch.exp(a - m), dim=1))
        return torch.sum(ll)

    def t_recurrence(x, a, b):
        for _ in range(STEPS):
            x = torch.sin(x) * a + b
        return x

    def t_lstm(W, b, X):
        H = W.shape[0] // 4
        h = torch.zeros(H, dtype=W.dtype)
        c = torch.zeros(H, dtype=W.dtype)
        for x in X:
            g = W @ torch.cat([x, h]) + b
            i = torch.sigmoid(g[:H])
            f = torch.sigmoid(g[H : 2 * H])
            o = torch.sigmoid(g[2 * H : 3 * H])
            c = f * c + i * torch.tanh(g[3 * H :])
            h = o * torch.tanh(c)
        return torch.sum(h * h)

    return {
        f"sin recurrence x{STEPS} (loop)": t_recurrence,
        "LSTM T=128 H=32 D=16 (loop)": t_lstm,
        "x**2 (scalar)": square,
        "x*x+3x+1 (scalar)": poly,
        "linreg MSE n=100": t_mse,
        "MLP 256x64-128-10": t_mlp,
        "Rosenbrock n=1000": t_rosenbrock,
        "GMM n=1000 K=25 d=10": t_gmm,
    }
