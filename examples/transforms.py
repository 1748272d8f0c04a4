"""Forward mode, Jacobians and Hessians, each emitted as code you can read.

``trajectory`` runs a damped oscillator for ``steps`` steps; ``@symgrad.jvp``
emits ``f_and_jvp``, which carries a tangent beside each value through the
loop (forward mode: one pass per input direction, no saved values).
``reproject`` projects a 3-D point through a pinhole camera with radial
distortion, as in bundle adjustment: 2 outputs from 15 parameters, so its
Jacobian is built row by row in reverse mode (2 passes, not 15).
``rosenbrock``'s Hessian comes from forward mode run over the gradient code
symgrad emitted for it; ``newton_step`` uses it.

    python examples/transforms.py                   # run it
    python -m symgrad emit examples/transforms.py   # read the code symgrad writes
"""

import numpy as np

import symgrad


@symgrad.jvp(wrt=("x0", "k"))
def trajectory(x0, k, steps):
    x, v = x0, 0.0
    for _ in range(steps):
        v = 0.9 * v - k * x * 0.1
        x = x + 0.1 * v
    return x


@symgrad.jacobian(wrt="params")
def reproject(params):
    """Rotation vector (3), translation (3), point (3), fx, fy, cx, cy, k1, k2."""
    w = params[0:3]
    theta = np.sqrt(np.sum(w * w))
    axis = w / theta
    p = params[6:9]
    cross = np.array(
        [
            axis[1] * p[2] - axis[2] * p[1],
            axis[2] * p[0] - axis[0] * p[2],
            axis[0] * p[1] - axis[1] * p[0],
        ]
    )
    c = np.cos(theta)
    q = p * c + cross * np.sin(theta) + axis * np.dot(axis, p) * (1 - c)
    q = q + params[3:6]
    xn = q[0] / q[2]
    yn = q[1] / q[2]
    r2 = xn * xn + yn * yn
    distortion = 1 + params[13] * r2 + params[14] * r2 * r2
    u = params[9] * distortion * xn + params[11]
    v = params[10] * distortion * yn + params[12]
    return np.array([u, v])


@symgrad.hessian
def rosenbrock(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def newton_step(x: np.ndarray) -> np.ndarray:
    """One Newton step on the Rosenbrock function."""
    gradient = rosenbrock.grad(x)
    return x - np.linalg.solve(rosenbrock.hessian(x), gradient)


CAMERA = np.array(
    [0.1, -0.2, 0.3, 0.5, -0.1, 4.0, 0.2, 0.3, 1.0, 500.0, 510.0, 320.0, 240.0]
    + [0.01, -0.001]
)


def main() -> None:
    x, dx = trajectory.f_and_jvp(1.0, 2.0, 50, tangents=(1.0, 0.0))
    print(f"trajectory: x_50 = {x:.6f}   dx_50/dx0 = {dx:.6f}")
    _, dk = trajectory.f_and_jvp(1.0, 2.0, 50, tangents=(0.0, 1.0))
    print(f"            dx_50/dk = {dk:.6f}")
    J = reproject.jacobian(CAMERA)
    print(f"reproject: pixel {np.round(reproject(CAMERA), 3)}, Jacobian {J.shape}")
    print(f"           d pixel / d focal lengths = {J[0, 9]:.5f}, {J[1, 10]:.5f}")
    x = np.array([1.2, 1.4, 2.0])
    for step in range(8):
        print(f"newton {step}: x = {np.round(x, 6)}   f = {rosenbrock(x):.3e}")
        x = newton_step(x)


if __name__ == "__main__":
    main()
