"""Every example in examples/ runs as a script and prints the right numbers.

Each example is imported (see ``conftest.load_example``) and its functions are
called and checked against values worked out by hand or computed independently
(least squares, finite differences); each is also run as a script in a fresh
interpreter, which must exit with status 0.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import symgrad

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES_DIR = ROOT / "examples"
EXAMPLES = ["quadratic", "linear_regression", "seeds_and_wrt", "neural_net"]
EXAMPLES += ["control_flow", "transforms", "custom_rules", "gaussian_process"]


def run(*argv: str) -> subprocess.CompletedProcess[str]:
    """Run ``python *argv`` from the repository root with symgrad importable."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in [str(ROOT), env.get("PYTHONPATH", "")] if p
    )
    return subprocess.run(
        [sys.executable, *argv],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=120,
    )


def run_script(name: str) -> subprocess.CompletedProcess[str]:
    return run(str(EXAMPLES_DIR / f"{name}.py"))


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_runs_as_a_script(name):
    result = run_script(name)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip(), f"{name}.py printed nothing"
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("name", EXAMPLES)
def test_cli_emits_every_decorated_function(name, load_example):
    module = load_example(name)
    result = run("-m", "symgrad", "emit", f"examples/{name}.py")
    assert result.returncode == 0, result.stderr
    decorated = [
        value
        for value in vars(module).values()
        if hasattr(value, "wrt") and hasattr(value, "source")
    ]
    assert decorated
    for fn in decorated:
        assert fn.source.strip() in result.stdout


# --- quadratic -------------------------------------------------------------


def test_square_at_5(load_example):
    quadratic = load_example("quadratic")
    assert quadratic.square(5.0) == 25.0
    value, slope = quadratic.square.f_and_grad(5.0)
    assert value == 25.0
    assert slope == 10.0
    assert quadratic.square.grad(5.0) == 10.0


def test_poly_at_4(load_example):
    quadratic = load_example("quadratic")
    assert quadratic.poly(4.0) == 29.0
    value, slope = quadratic.poly.f_and_grad(4.0)
    assert value == 29.0
    assert slope == 11.0


def test_quadratic_prints_its_numbers():
    out = run_script("quadratic").stdout
    assert "square(5) = 25.0" in out and "d/dx = 10.0" in out
    assert "poly(4)   = 29.0" in out and "d/dx = 11.0" in out


# --- linear regression -----------------------------------------------------


def test_linear_regression_initial_gradients(load_example):
    lr = load_example("linear_regression")
    X, Y = lr.make_data()
    w, b = lr.W0, lr.B0
    value, (dw, db) = lr.loss.f_and_grad(w, b, X, Y)
    assert isinstance(dw, float) and isinstance(db, float)
    # The same quantities written out by hand: L = mean(r**2), r = w x + b - y.
    r = w * X + b - Y
    assert value == pytest.approx(np.mean(r**2), rel=1e-12)
    assert dw == pytest.approx(2 * np.mean(r * X), rel=1e-12)
    assert db == pytest.approx(2 * np.mean(r), rel=1e-12)
    symgrad.check_grad(lr.loss, w, b, X, Y)
    assert dw == pytest.approx(lr.central_difference(lr.loss, [w, b, X, Y], 0))
    assert db == pytest.approx(lr.central_difference(lr.loss, [w, b, X, Y], 1))


def test_linear_regression_reaches_least_squares(load_example):
    lr = load_example("linear_regression")
    X, Y = lr.make_data()
    best_w, best_b = lr.least_squares(X, Y)
    # The bounds below hold for the optimum of this seeded data (w = -4.9941,
    # b = 0.0327), so they test the optimiser, not luck with the noise.
    assert abs(best_w + 5) < 0.1 and abs(best_b) < 0.15
    w, b, history = lr.fit(lr.W0, lr.B0, X, Y)
    assert abs(w + 5) < 0.1
    assert abs(b) < 0.15
    assert w == pytest.approx(best_w, abs=1e-4)
    assert b == pytest.approx(best_b, abs=1e-3)
    assert history[-1] < history[0] / 1000


def test_linear_regression_checks_gradients_in_main(load_example, capsys):
    load_example("linear_regression").main()
    out = capsys.readouterr().out
    assert "Initial loss:       600.2956" in out
    assert "dL/dw = -81.444784, dL/db = -39.564877" in out
    assert "match central finite differences" in out


# --- seeds and wrt ---------------------------------------------------------


def test_default_seed_gradient_is_zero_at_the_minimum(load_example):
    ex = load_example("seeds_and_wrt")
    value, dw = ex.loss_w.f_and_grad(2.0, 1.0, 3.0, 7.0)
    assert value == 0.0
    assert dw == 0.0  # not the 2.0 the tutorial prints


def test_gradient_for_y_true_10(load_example):
    ex = load_example("seeds_and_wrt")
    value, dw = ex.loss_w.f_and_grad(2.0, 1.0, 3.0, 10.0)
    assert value == 9.0
    assert dw == -18.0


def test_seed_3_gives_exactly_three_times_the_gradient(load_example):
    ex = load_example("seeds_and_wrt")
    args = (2.0, 1.0, 3.0, 10.0)
    default = ex.loss_w.grad(*args)
    assert ex.loss_w.grad(*args, seed=3.0) == 3 * default
    value, (dw, db) = ex.loss_wb.f_and_grad(*args, seed=3.0)
    assert value == 9.0  # the seed scales gradients, not the value
    assert (dw, db) == (-54.0, -18.0)


def test_weighted_losses(load_example):
    ex = load_example("seeds_and_wrt")
    weights = np.array([2.0, 1.0])
    value, dw = ex.weighted_loss.f_and_grad(2.0, 1.0, 3.0, 7.0, weights)
    assert value == 24.5
    assert dw == 42.0
    x, y = np.array([3.0, 4.0]), np.array([10.0, 10.0])
    value, dw = ex.sample_weighted_loss.f_and_grad(2.0, 1.0, x, y, weights)
    assert value == 9.5
    assert dw == -22.0
    symgrad.check_grad(ex.weighted_loss, 2.0, 1.0, 3.0, 7.0, weights)
    symgrad.check_grad(ex.sample_weighted_loss, 2.0, 1.0, x, y, weights)


def test_wrt_chooses_what_requires_grad(load_example):
    ex = load_example("seeds_and_wrt")
    args = (2.0, 1.0, 3.0, 10.0)
    assert ex.loss_w.grad(*args) == -18.0
    assert ex.loss_wb.grad(*args) == (-18.0, -6.0)


def test_vector_output_needs_a_seed(load_example):
    ex = load_example("seeds_and_wrt")
    x = np.array([1.0, 2.0, 3.0])
    v = np.array([1.0, 0.1, 0.01])
    with pytest.raises(symgrad.SymgradError):
        ex.squares.grad(x)
    gradient = ex.squares.grad(x, seed=v)
    assert gradient.shape == x.shape
    np.testing.assert_allclose(gradient, 2 * x * v, rtol=1e-15)
    np.testing.assert_array_equal(ex.squares.grad(x, seed=np.ones(3)), 2 * x)
    symgrad.check_grad(ex.squares, x, seed=v)


def test_seeds_and_wrt_main_prints(load_example, capsys):
    load_example("seeds_and_wrt").main()
    out = capsys.readouterr().out
    assert "y_true = 7:  loss = 0.0, dL/dw = 0.0" in out
    assert "y_true = 10: loss = 9.0, dL/dw = -18.0" in out
    assert "seed = 3.0:  dL/dw = -54.0" in out
    assert "dL/dw = -18.0, dL/db = -6.0" in out


# --- neural net ------------------------------------------------------------


def test_neural_net_gradients_match_finite_differences(load_example):
    nn = load_example("neural_net")
    data = nn.load_data()
    params = nn.init_params(np.random.default_rng(3), hidden=5)
    X, Y = data["X_train"][:6], data["Y_train"][:6]
    symgrad.check_grad(nn.loss, *params, X, Y)
    grads = nn.loss.grad(*params, X, Y)
    assert [g.shape for g in grads] == [p.shape for p in params]


def test_neural_net_learns_digits(load_example):
    nn = load_example("neural_net")
    params, history, test_accuracy = nn.train(seed=0)
    assert len(history) == nn.EPOCHS
    assert history[-1] < history[0]
    assert test_accuracy >= 0.90
    data = nn.load_data(0)
    assert test_accuracy == nn.accuracy(params, data["X_test"], data["labels_test"])


# --- control flow ----------------------------------------------------------


def test_recurrence_gradient_by_forward_differentiation(load_example):
    """d x_n / d(a, b) by the chain rule run forwards, step by step."""
    cf = load_example("control_flow")
    x, a, b = 0.5, 0.9, 0.1
    dx_da = dx_db = 0.0
    for _ in range(100):
        dx_da = np.cos(x) * a * dx_da + np.sin(x)
        dx_db = np.cos(x) * a * dx_db + 1.0
        x = np.sin(x) * a + b
    value, (da, db) = cf.recurrence.f_and_grad(0.5, a, b, 100)
    assert value == pytest.approx(x, rel=1e-12)
    assert da == pytest.approx(dx_da, rel=1e-10)
    assert db == pytest.approx(dx_db, rel=1e-10)


def test_huber_follows_the_branch_taken(load_example):
    cf = load_example("control_flow")
    assert cf.huber.f_and_grad(0.5, 1.0) == (0.125, 0.5)
    assert cf.huber.f_and_grad(-3.0, 1.0) == (2.5, -1.0)


def test_smooth_gradient_by_hand(load_example):
    """y0 = x1; y_i = y_(i-1) / 2 + x_i**2; the sum of the y."""
    cf = load_example("control_flow")
    value, grad = cf.smooth.f_and_grad(np.array([1.0, 2.0, 3.0, 4.0]))
    assert value == 2.0 + 5.0 + 11.5 + 21.75
    np.testing.assert_allclose(grad, [0.0, 1.875 + 4 * 1.75, 6 * 1.5, 8.0])


def test_control_flow_emits_loops_and_in_place_writes(load_example):
    cf = load_example("control_flow")
    assert "for t1, x_1 in reversed(saved):" in cf.recurrence.source
    assert "saved.append((t1, x_1))" in cf.recurrence.source
    assert "y[i] = " in cf.smooth.source  # a write in place, not a copy
    assert "_setitem" not in cf.smooth.source
    assert "if t1:" in cf.huber.source


def test_neural_net_accuracy_rides_along_with_the_loss(load_example):
    nn = load_example("neural_net")
    data = nn.load_data()
    params = nn.init_params(np.random.default_rng(3))
    X, Y = data["X_train"][:32], data["Y_train"][:32]
    (value, accuracy), grads = nn.loss_and_accuracy.f_and_grad(*params, X, Y)
    plain_value, plain_grads = nn.loss.f_and_grad(*params, X, Y)
    assert value == plain_value
    for g, h in zip(grads, plain_grads, strict=True):
        np.testing.assert_array_equal(g, h)
    labels = np.argmax(Y, axis=1)
    assert accuracy == nn.accuracy(params, X, labels)
    symgrad.check_grad(nn.loss_and_accuracy, *params, X, Y)


# --- transforms: forward mode, Jacobian, Hessian ----------------------------


def test_trajectory_tangents_match_differences(load_example):
    trajectory = load_example("transforms").trajectory
    h = 1e-6
    for tangents, moved in (((1.0, 0.0), (h, 0.0)), ((0.0, 1.0), (0.0, h))):
        _, dot = trajectory.f_and_jvp(1.0, 2.0, 50, tangents=tangents)
        up = trajectory(1.0 + moved[0], 2.0 + moved[1], 50)
        down = trajectory(1.0 - moved[0], 2.0 - moved[1], 50)
        assert dot == pytest.approx((up - down) / (2 * h), rel=1e-6)


def test_newton_on_rosenbrock_converges(load_example):
    transforms = load_example("transforms")
    x = np.array([1.2, 1.4, 2.0])
    for _ in range(8):
        x = transforms.newton_step(x)
    np.testing.assert_allclose(x, np.ones(3), atol=1e-10)


def test_transforms_prints_its_numbers():
    out = run_script("transforms").stdout
    assert "Jacobian (2, 15)" in out
    assert "newton 7: x = [1. 1. 1.]" in out


# --- a Gaussian process: np.linalg.cholesky, its Hessian -----------------------


def test_gaussian_process_gradient_is_the_closed_form(load_example):
    gp = load_example("gaussian_process")
    X, y = gp.data()
    for theta in (np.log([1.0, 1.0, 0.5]), np.array([0.3, -0.2, -1.5])):
        np.testing.assert_allclose(
            gp.nll.grad(theta, X, y), gp.closed_form(theta, X, y), rtol=1e-9
        )


def test_gaussian_process_fit_is_a_stationary_point(load_example):
    gp = load_example("gaussian_process")
    X, y = gp.data()
    fitted, steps = gp.fit(np.log([1.0, 1.0, 0.5]), X, y)
    assert steps <= 10
    assert np.max(np.abs(gp.closed_form(fitted, X, y))) < 1e-8
    assert np.all(np.linalg.eigvalsh(gp.curvature.hessian(fitted, X, y)) > 0.0)


def test_gaussian_process_prints_its_numbers():
    out = run_script("gaussian_process").stdout
    assert "symgrad gradient: [ 3.972338 -4.141347 18.555116]" in out
    assert "closed form:      [ 3.972338 -4.141347 18.555116]" in out
    assert "fitted in 6 Newton steps: amplitude 0.843, length scale 1.606" in out
    assert "evidence: 14.797 -> -14.032" in out


# --- custom rules -------------------------------------------------------------


def test_custom_rule_gradients_match_differences(load_example):
    ex = load_example("custom_rules")
    rng = np.random.default_rng(5)
    X = rng.standard_normal((20, 3))
    y = rng.standard_normal(20)
    w = rng.standard_normal(3)
    symgrad.check_grad(ex.robust_loss, w, X, y)
    A = np.array([[3.0, 1.0], [0.5, 2.0]])
    b = np.array([1.0, -1.0])
    symgrad.check_grad(ex.solution_norm, A, b)
    _, dx = ex.solution_direction.f_and_jvp(A, b, tangents=np.array([0.0, 1.0]))
    np.testing.assert_allclose(dx, np.linalg.solve(A, [0.0, 1.0]))


def test_custom_rules_are_called_by_name_in_the_emitted_code(load_example):
    ex = load_example("custom_rules")
    assert "softplus_grad(" in ex.robust_loss.source
    assert "ranks(" in ex.robust_loss.source
    assert "np.logaddexp" not in ex.robust_loss.source
    assert "solve_vjp(" in ex.solution_norm.source
    assert "solve_jvp(" in ex.solution_direction.source


def test_custom_rules_prints_its_numbers():
    out = run_script("custom_rules").stdout
    assert "robust fit: w = [ 1.02  -2.015  0.503]" in out
    assert "softplus(1000.0) = 1000.0  slope = 1.0" in out
