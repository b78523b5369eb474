# seam eval's Python wrapper: runs one call into the user's code and answers on a private pipe.
#
# The request comes on stdin as one JSON object; the answer goes to a duplicate of the original
# stdout as one JSON line. Before any user code runs, fd 1 is pointed at stderr and stdin at
# /dev/null, so whatever the user's code prints can never be mistaken for the answer.
import json
import os
import sys


def _seam_main():
    answer = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    request = json.loads(sys.stdin.buffer.read().decode("utf-8"))
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    sys.stdin = open(0, "r", closefd=False)
    limits = request.get("limits")
    if limits:
        _seam_limit(limits)
    try:
        data = _seam_call(request)
        text = json.dumps({"ok": data}, default=_seam_plain, allow_nan=False)
    except BaseException as e:  # noqa: BLE001 - every failure is reported, not raised
        message = _seam_message(e)
        import traceback

        tb = "".join(traceback.format_exception(type(e), e, e.__traceback__))
        text = json.dumps({"error": message, "traceback": tb[-4000:]})
    answer.write(text)
    answer.write("\n")
    answer.flush()


def _seam_message(e):
    if isinstance(e, SyntaxError):
        where = f" (line {e.lineno})" if e.lineno else ""
        return f"{type(e).__name__}: {e.msg}{where}"
    return f"{type(e).__name__}: {e}"


def _seam_limit(limits):
    import resource

    mem = limits.get("memory_bytes")
    if mem:
        resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
    cpu = limits.get("cpu_seconds")
    if cpu:
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    # A second layer over the kernel's (Landlock): refuse what an assertion never needs.
    denied = (
        "socket.connect",
        "socket.bind",
        "socket.sendto",
        "socket.sendmsg",
        "socket.getaddrinfo",
        "subprocess.Popen",
        "os.system",
        "os.exec",
        "os.posix_spawn",
        "os.spawn",
        "os.fork",
        "os.forkpty",
        "os.kill",
        "os.killpg",
        "ctypes.dlopen",
        "ctypes.dlsym",
        "ctypes.cdata",
    )

    def hook(event, _args):
        if event in denied:
            raise PermissionError(f"{event} is not allowed in a sandboxed python assertion")

    sys.addaudithook(hook)


def _seam_plain(o):
    import dataclasses

    if dataclasses.is_dataclass(o) and not isinstance(o, type):
        return dataclasses.asdict(o)
    if hasattr(o, "__dict__"):
        return vars(o)
    if isinstance(o, (set, frozenset, tuple)):
        return list(o)
    return str(o)


def _seam_call(request):
    kind = request["kind"]
    if kind == "compile":
        verdicts = []
        for item in request["sources"]:
            try:
                compile(item["source"], item["name"], "exec")
                verdicts.append(None)
            except (SyntaxError, ValueError) as e:
                verdicts.append(_seam_message(e))
        return verdicts
    if kind == "code":
        namespace = {"__name__": "__seam_inline__"}
        exec(compile(request["source"], request.get("name", "<python>"), "exec"), namespace)
        fn = namespace[request["function"]]
    else:
        import importlib.util

        path = request["path"]
        directory = os.path.dirname(os.path.abspath(path))
        if directory not in sys.path:
            sys.path.insert(0, directory)
        name = os.path.basename(path).rsplit(".", 1)[0]
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        fn = getattr(module, request["function"], None)
        if fn is None or not callable(fn):
            raise AttributeError(f"{os.path.basename(path)} has no function {request['function']}")
    result = fn(*request["args"])
    if hasattr(result, "__await__"):
        import asyncio

        async def wait():
            return await result

        result = asyncio.run(wait())
    return result


_seam_main()
