"""A Gaussian process's kernel fitted to data by its evidence.

The negative log marginal likelihood of data y at points X under a Gaussian
process with a squared-exponential kernel, written as a textbook writes it,
through a Cholesky factor:

    K = a^2 exp(-(x_i - x_j)^2 / (2 l^2)) + s^2 I,   L = cholesky(K)
    nll = y^T K^-1 y / 2 + sum(log diag L) + n log(2 pi) / 2

symgrad differentiates it, np.linalg.cholesky and np.linalg.solve included,
with respect to theta = (log a, log l, log s).  The gradient is checked
against the closed form tr((K^-1 - alpha alpha^T) dK/dtheta) / 2, and
Newton's method with symgrad's Hessian fits theta.
"""

import numpy as np

import symgrad


@symgrad.grad(wrt="theta")
def nll(theta, X, y):
    amplitude, scale, noise = np.exp(theta)
    D = (X[:, None] - X[None, :]) ** 2
    K = amplitude**2 * np.exp(-D / (2.0 * scale**2)) + noise**2 * np.eye(len(X))
    L = np.linalg.cholesky(K)
    alpha = np.linalg.solve(L.T, np.linalg.solve(L, y))
    log_det = np.sum(np.log(np.diag(L)))
    return 0.5 * y @ alpha + log_det + 0.5 * len(X) * np.log(2.0 * np.pi)


curvature = symgrad.hessian(nll, wrt="theta")


def data() -> tuple[np.ndarray, np.ndarray]:
    """25 noisy samples of sin(x) on [-3, 3] (seeded: reproducible)."""
    X = np.linspace(-3.0, 3.0, 25)
    return X, np.sin(X) + 0.1 * np.random.default_rng(0).standard_normal(25)


def closed_form(theta: np.ndarray, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The gradient by hand: tr((K^-1 - alpha alpha^T) dK/dtheta_k) / 2."""
    amplitude, scale, noise = np.exp(theta)
    D = (X[:, None] - X[None, :]) ** 2
    shape = amplitude**2 * np.exp(-D / (2.0 * scale**2))
    inverse = np.linalg.inv(shape + noise**2 * np.eye(len(X)))
    alpha = inverse @ y
    inner = inverse - np.outer(alpha, alpha)
    dK = [2.0 * shape, shape * D / scale**2, 2.0 * noise**2 * np.eye(len(X))]
    return np.array([0.5 * np.sum(inner * d) for d in dK])


def fit(theta: np.ndarray, X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, int]:
    """Newton's method, halving a step that does not lower the evidence."""
    for step in range(1, 51):
        value, gradient = nll.f_and_grad(theta, X, y)
        if np.max(np.abs(gradient)) < 1e-9:
            return theta, step - 1
        H = curvature.hessian(theta, X, y)
        move = np.linalg.solve(H, gradient)
        if np.any(np.linalg.eigvalsh(H) <= 0.0):  # (far off: a gradient step)
            move = gradient
        while nll(theta - move, X, y) > value:
            move = move / 2.0
        theta = theta - move
    return theta, 50


def main() -> None:
    X, y = data()
    theta = np.log([1.0, 1.0, 0.5])
    print("symgrad gradient:", np.round(nll.grad(theta, X, y), 6))
    print("closed form:     ", np.round(closed_form(theta, X, y), 6))
    fitted, steps = fit(theta, X, y)
    amplitude, scale, noise = np.exp(fitted)
    print(f"fitted in {steps} Newton steps: amplitude {amplitude:.3f}, ", end="")
    print(f"length scale {scale:.3f}, noise {noise:.3f}")
    print(f"evidence: {nll(theta, X, y):.3f} -> {nll(fitted, X, y):.3f}")


if __name__ == "__main__":
    main()
