# Incremental (push) JSON parser for the map stream. Bytes go in with feed(); structure
# goes out as calls on handler objects, so a large document is never materialised.
#   handler.enter(key, is_obj) -> child handler, or None to skip that value entirely
#   handler.val(key, value)    -> scalar (str, int, float, bool, None)
#   handler.done()             -> the container this handler was given has closed
# key is the member name inside objects and None inside arrays.
# Memory is bounded: one token (max_token bytes) and the nesting depth (max_depth).


class JsonError(ValueError):
    pass


_WSB = b" \t\r\n"
_WS = (32, 10, 13, 9)
_DELIM = (44, 125, 93, 32, 10, 13, 9, 58)
_ESC = {98: "\b", 102: "\f", 110: "\n", 114: "\r", 116: "\t", 34: '"', 92: "\\", 47: "/"}
# expectations
_VAL = 0
_KEY = 1
_COLON = 2
_SEP = 3
_VAL_OR_CLOSE = 4
_KEY_OR_CLOSE = 5
_DONE = 6


def unescape(s):
    """Decode the body of a JSON string (bytes, no quotes) into str."""
    if b"\\" not in s:
        return s.decode()
    out = []
    i = 0
    n = len(s)
    while i < n:
        j = s.find(b"\\", i)
        if j < 0:
            out.append(s[i:].decode())
            break
        out.append(s[i:j].decode())
        if j + 1 >= n:
            raise JsonError("bad escape")
        c = s[j + 1]
        if c == 117:  # \uXXXX (with surrogate pairs)
            cp = _hex4(s, j + 2)
            i = j + 6
            if 0xD800 <= cp < 0xDC00 and s[i:i + 2] == b"\\u":
                lo = _hex4(s, i + 2)
                if 0xDC00 <= lo < 0xE000:
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00)
                    i += 6
            if 0xD800 <= cp < 0xE000:
                cp = 0xFFFD
            out.append(chr(cp))
        else:
            e = _ESC.get(c)
            if e is None:
                raise JsonError("bad escape")
            out.append(e)
            i = j + 2
    return "".join(out)


def _hex4(s, i):
    h = s[i:i + 4]
    if len(h) != 4:
        raise JsonError("bad \\u escape")
    try:
        return int(h.decode(), 16)
    except ValueError:
        raise JsonError("bad \\u escape")


def _scalar(t):
    if t == b"true":
        return True
    if t == b"false":
        return False
    if t == b"null":
        return None
    c = t[0]
    if not (48 <= c <= 57 or c == 45):
        raise JsonError("bad literal")
    try:
        if b"." in t or b"e" in t or b"E" in t:
            return float(t.decode())
        return int(t.decode())
    except ValueError:
        raise JsonError("bad number")


class Parser:
    def __init__(self, root, max_token=4096, max_depth=32):
        self.max_token = max_token
        self.max_depth = max_depth
        self.reset(root)

    def reset(self, root):
        self._buf = b""
        self._stack = []       # [handler, is_obj, key]; handler None while skipping
        self._root = root
        self._exp = _VAL
        self._key = None

    def finish(self):
        """End of the document: raise unless exactly one complete value was fed."""
        if self._buf.strip(_WSB) or self._exp != _DONE:
            raise JsonError("truncated JSON")

    def feed(self, data):
        b = self._buf + data if self._buf else (data if isinstance(data, bytes) else bytes(data))
        i = self._run(b)
        rest = b[i:]
        if len(rest) > self.max_token:
            raise JsonError("JSON token too long")
        self._buf = rest

    def _run(self, b):
        n = len(b)
        i = 0
        while i < n:
            c = b[i]
            if c in _WS:
                i += 1
                continue
            exp = self._exp
            if c == 34:  # '"'
                j = b.find(b'"', i + 1)
                while j > 0 and b[j - 1] == 92 and _odd_bs(b, j):
                    j = b.find(b'"', j + 1)
                if j < 0:
                    return i
                if exp == _KEY or exp == _KEY_OR_CLOSE:
                    self._key = unescape(b[i + 1:j])
                    self._exp = _COLON
                else:
                    self._value(unescape(b[i + 1:j]) if self._want() else None)
                i = j + 1
            elif c == 123 or c == 91:  # { [
                self._open(c == 123)
                i += 1
            elif c == 125 or c == 93:  # } ]
                self._close(c == 125)
                i += 1
            elif c == 58:  # :
                if exp != _COLON:
                    raise JsonError("unexpected ':'")
                self._exp = _VAL
                i += 1
            elif c == 44:  # ,
                if exp != _SEP:
                    raise JsonError("unexpected ','")
                self._exp = _KEY if self._stack[-1][1] else _VAL
                i += 1
            else:
                j = i + 1
                while j < n and b[j] not in _DELIM:
                    j += 1
                if j >= n:
                    return i
                self._value(_scalar(b[i:j]))
                i = j
        return i

    def _want(self):
        return not self._stack or self._stack[-1][0] is not None

    def _check_value(self):
        e = self._exp
        if e != _VAL and e != _VAL_OR_CLOSE:
            raise JsonError("unexpected value")

    def _value(self, v):
        self._check_value()
        st = self._stack
        if not st:
            raise JsonError("top-level value must be an object or array")
        top = st[-1]
        if top[0] is not None:
            top[0].val(self._key if top[1] else None, v)
        self._exp = _SEP

    def _open(self, is_obj):
        self._check_value()
        st = self._stack
        if len(st) >= self.max_depth:
            raise JsonError("JSON nested too deeply")
        if not st:
            h = self._root.enter(None, is_obj)
        else:
            parent = st[-1]
            h = None
            if parent[0] is not None:
                h = parent[0].enter(self._key if parent[1] else None, is_obj)
        st.append([h, is_obj, self._key])
        self._exp = _KEY_OR_CLOSE if is_obj else _VAL_OR_CLOSE

    def _close(self, is_obj):
        st = self._stack
        e = self._exp
        if not st or st[-1][1] != is_obj:
            raise JsonError("mismatched bracket")
        if not (e == _SEP or (is_obj and e == _KEY_OR_CLOSE) or (not is_obj and e == _VAL_OR_CLOSE)):
            raise JsonError("unexpected close")
        h, _, key = st.pop()
        if h is not None:
            h.done()
        self._key = key
        self._exp = _SEP if st else _DONE


def _odd_bs(b, j):
    k = j - 1
    while b[k] == 92:
        k -= 1
    return (j - 1 - k) & 1


class Budget:
    """Counts items materialised by Build, to bound memory on hostile input."""

    def __init__(self, limit):
        self.left = limit

    def take(self, n=1):
        self.left -= n
        if self.left < 0:
            raise JsonError("JSON value too large to keep")


class Build:
    """Handler that materialises a value into dicts/lists, within a Budget.
    on_done(value) is called when the container closes."""

    def __init__(self, is_obj, budget, on_done):
        self.v = {} if is_obj else []
        self.budget = budget
        self.on_done = on_done

    def _put(self, key, v):
        self.budget.take(1 + (len(v) >> 4 if isinstance(v, str) else 0))
        if key is None:
            self.v.append(v)
        else:
            self.v[key] = v

    def val(self, key, v):
        self._put(key, v)

    def enter(self, key, is_obj):
        return Build(is_obj, self.budget, lambda v: self._put(key, v))

    def done(self):
        self.on_done(self.v)


class Skip:
    """Handler that ignores everything but still receives done()."""

    def val(self, key, v):
        pass

    def enter(self, key, is_obj):
        return None

    def done(self):
        pass


def loads(data, limit=4096):
    """Parse a whole document (small ones: register responses) within a budget."""
    out = []
    p = Parser(_Root(Budget(limit), out))
    p.feed(data)
    p.finish()
    return out[0] if out else None


class _Root:
    def __init__(self, budget, out):
        self.budget = budget
        self.out = out

    def enter(self, key, is_obj):
        return Build(is_obj, self.budget, self.out.append)
