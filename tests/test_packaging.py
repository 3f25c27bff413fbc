import os
import pathlib
import shutil
import subprocess
import sys
import tomllib

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_every_subpackage_is_listed_in_pyproject():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "snnsk").rglob("__init__.py")}
    assert found <= listed, f"add {sorted(found - listed)} to [tool.setuptools] packages"
    assert config["package-dir"]["snnsk.kernels"] == "kernels"


def test_import_does_not_need_cupy():
    code = ("import sys; sys.modules['cupy'] = None; import snnsk, snnsk.core.neurons; "
            "print(snnsk.__version__)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_cpu_use_never_imports_cupy():
    # not only importable without CuPy: running the CPU backends does not even look for it
    code = ("import sys, torch; import snnsk; from snnsk.core.neurons import lif; "
            "x = torch.ones(3, 4, requires_grad=True); lif(x).sum().backward(); "
            "lif(x.detach(), backend='torch'); print('cupy' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_a_non_editable_install_ships_the_cuda_kernel_sources(tmp_path):
    # `pip install .` (into a target folder, from a copy of the sources): the CUDA sources
    # must be inside the installed package, where the cupy backend reads them

    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.nbi", "*.nbc")
    for name in ("snnsk", "kernels"):
        shutil.copytree(ROOT / name, src / name, ignore=ignore)
    site = tmp_path / "site"
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--no-index", "--target", str(site), str(src)], capture_output=True, text=True)
    assert install.returncode == 0, install.stdout + install.stderr
    shipped = sorted(p.name for p in (site / "snnsk" / "kernels").iterdir() if p.suffix in (".cu", ".cuh"))
    expected = sorted(p.name for p in (ROOT / "kernels").iterdir() if p.suffix in (".cu", ".cuh"))
    assert shipped == expected and "lif.cu" in shipped
    code = ("import snnsk, snnsk.core.backends.cuda as cuda; print(snnsk.__file__); "
            "print(all(name.split('<')[0] in cuda.kernel_source() for name in cuda.kernel_names()))")
    # only the installed copy on the path (not the checkout, not an editable install's finder)
    env = dict(os.environ, PYTHONPATH=str(site))
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    where, found = run.stdout.split()
    assert pathlib.Path(where).is_relative_to(site) and found == "True"


def test_the_skorch_floor_is_the_release_partial_fit_needs_and_is_installed():
    from importlib.metadata import version

    from packaging.requirements import Requirement
    from packaging.version import Version

    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    (skorch,) = [req for req in map(Requirement, dependencies) if req.name == "skorch"]
    floors = [Version(spec.version) for spec in skorch.specifier if spec.operator == ">="]
    assert len(floors) == 1, f"skorch needs one lower bound (>=), got {skorch}"
    # SpikingMixin.partial_fit reads skorch's `_routing_method` fit parameter, new in skorch 1.4.0
    assert floors[0] >= Version("1.4"), f"skorch {skorch.specifier} allows releases without it"
    installed = Version(version("skorch"))
    assert floors[0] <= installed and skorch.specifier.contains(installed, prereleases=True), \
        f"the installed skorch {installed} does not satisfy {skorch}"
