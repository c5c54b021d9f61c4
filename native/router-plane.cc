// The router's native data plane (router-plane.h): epoll threads that serve the
// HTTP and HTTPS requests src/router would serve the same way, and hand every other
// connection to it. The rules mirror src/router (request-head.ts, response-head.ts,
// forward-headers.ts, chunked.ts, exchange.ts); where this file is stricter, the
// request goes to JavaScript, never to a different answer.
#include "router-plane.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <execinfo.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <exception>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "net.h"

namespace dynod {
namespace {

constexpr size_t kHeadMax = 8192;        // longer heads: JavaScript (its limits and codes)
constexpr size_t kBodyMax = 64 * 1024;   // bodies the plane holds whole (and may replay)
constexpr size_t kReadChunk = 64 * 1024;
constexpr size_t kClientOutHigh = 256 * 1024;  // stop reading the dyno until the client takes this
constexpr size_t kResponseHeadMax = 1024 * 1024;
constexpr size_t kChunkLineMax = 8192;
constexpr double kLinesEvery = 10;  // ms
constexpr double kLingerMs = 2000;   // a closing client's unread bytes are read and dropped, this long at most
// reading a socket: on and off together (a pending FIN would report EPOLLRDHUP forever)
constexpr uint32_t kReading = EPOLLIN | EPOLLRDHUP;
const char kVia[] = "1.1 dynod";

double mono_ms() {
  timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

int64_t wall_ms() {
  timespec t;
  clock_gettime(CLOCK_REALTIME, &t);
  return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

bool ieq(const char *s, size_t n, const char *lower) {
  if (strlen(lower) != n) return false;
  for (size_t i = 0; i < n; i++)
    if ((s[i] | 0x20) != lower[i]) return false;
  return true;
}

bool tchar(unsigned char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return strchr("!#$%&'*+-.^_`|~", c) != nullptr && c != 0;
}

// a control character but HTAB (header-names.ts isCtl): never in a field value (RFC 9110
// §5.5), a request target or a chunk extension (RFC 9112 §7.1.1)
bool ctl(unsigned char c) { return (c < 0x20 && c != '\t') || c == 0x7f; }

// The header line s[pos, cr) with its colon at `colon`: a name that is not a token, or a
// value with a control character (NUL, a lone CR: a parser after ours could split the line
// where we did not, RFC 9110 §5.5); nullptr when nothing is wrong (src/router/header-names.ts fieldProblem)
const char *field_problem(const char *s, size_t pos, size_t colon, size_t cr) {
  for (size_t i = pos; i < colon; i++)
    if (!tchar((unsigned char)s[i])) return "bad header name";
  for (size_t i = colon + 1; i < cr; i++)
    if (ctl((unsigned char)s[i])) return "bad header value";
  return nullptr;
}

// a line of p[0, n) ends in LF without CR: such a head never shows its "\r\n\r\n"
bool bare_lf(const char *p, size_t n) {
  for (const char *q = p; (q = static_cast<const char *>(memchr(q, '\n', p + n - q))) != nullptr; q++)
    if (q == p || q[-1] != '\r') return true;
  return false;
}

// uri-host [":" port] of RFC 3986's characters (src/router/request-head.ts validHost)
bool valid_host(const std::string &v) {
  for (unsigned char c : v)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || (c != 0 && strchr("-._~%!$&'()*+,;=:[]", c) != nullptr))) return false;
  return true;
}

// the value of a header line: between the colon and the CR, blanks trimmed
std::string header_value(const char *s, size_t colon, size_t cr) {
  size_t a = colon + 1, b = cr;
  while (a < b && (s[a] == ' ' || s[a] == '\t')) a++;
  while (b > a && (s[b - 1] == ' ' || s[b - 1] == '\t')) b--;
  return std::string(s + a, b - a);
}

// Content-Length: digits only, or -1
int64_t parse_length(const std::string &v) {
  if (v.empty() || v.size() > 15) return -1;
  int64_t n = 0;
  for (char c : v) {
    if (c < '0' || c > '9') return -1;
    n = n * 10 + (c - '0');
  }
  return n;
}


// The tokens of a Connection header value: close, keep-alive, upgrade, and whether it
// names other headers (hop-by-hop headers to drop: JavaScript's rule, not the plane's).
struct ConnTokens {
  bool close = false, keep_alive = false, upgrade = false, others = false;
  std::vector<std::string> names;  // the others, lower-cased
};
void connection_tokens(const std::string &v, ConnTokens &t) {
  size_t a = 0;
  while (a <= v.size()) {
    size_t b = v.find(',', a);
    if (b == std::string::npos) b = v.size();
    size_t x = a, y = b;
    while (x < y && (v[x] == ' ' || v[x] == '\t')) x++;
    while (y > x && (v[y - 1] == ' ' || v[y - 1] == '\t')) y--;
    if (ieq(v.data() + x, y - x, "close")) t.close = true;
    else if (ieq(v.data() + x, y - x, "keep-alive")) t.keep_alive = true;
    else if (ieq(v.data() + x, y - x, "upgrade")) t.upgrade = true;
    else if (y > x) {
      t.others = true;
      std::string n(v.data() + x, y - x);
      for (char &ch : n) ch = (char)tolower((unsigned char)ch);
      t.names.push_back(std::move(n));
    }
    a = b + 1;
  }
}

// ------------------------------------------------------------------ the request head

struct Request {
  std::string method, target, host, request_id, forwarded_for, via, kept;
  size_t head_len = 0;  // through the blank line
  int64_t length = 0;
  bool had_length = false;
  bool keep_alive = true;
  // for the next request on the connection, keeping the strings' memory
  void clear() {
    method.clear(), target.clear(), host.clear(), request_id.clear(), forwarded_for.clear(), via.clear(), kept.clear();
    head_len = 0, length = 0, had_length = false, keep_alive = true;
  }
};

// Takes the head s[0, n) (up to and with the last header's CRLF) when it is a request
// the plane serves exactly as src/router would; false hands it to JavaScript.
bool take_request(const char *s, size_t n, const PlaneOptions &o, Request &r) {
  const char *eol = static_cast<const char *>(memchr(s, '\n', n));
  if (!eol || eol == s || eol[-1] != '\r') return false;
  size_t line_end = eol - 1 - s;  // the CR
  const char *sp1 = static_cast<const char *>(memchr(s, ' ', line_end));
  if (!sp1 || sp1 == s) return false;
  const char *sp2 = static_cast<const char *>(memchr(sp1 + 1, ' ', s + line_end - (sp1 + 1)));
  if (!sp2 || sp2 == sp1 + 1) return false;
  for (const char *p = s; p < sp1; p++)
    if (!tchar((unsigned char)*p)) return false;
  // HTTP/1.1 only: 1.0's keep-alive and de-chunking are JavaScript's
  if (s + line_end - (sp2 + 1) != 8 || memcmp(sp2 + 1, "HTTP/1.1", 8) != 0) return false;
  r.method.assign(s, sp1 - s);
  if (r.method == "CONNECT" || r.method.size() > 127) return false;
  r.target.assign(sp1 + 1, sp2 - sp1 - 1);
  for (char c : r.target)
    if ((unsigned char)c <= ' ' || c == 0x7f) return false;

  bool host_seen = false, length_seen = false, conn_close = false;
  int count = 0;
  size_t run_start = line_end + 2, pos = line_end + 2;
  while (pos < n) {
    const char *nlp = static_cast<const char *>(memchr(s + pos, '\n', n - pos));
    if (!nlp) return false;
    size_t nl = nlp - s;
    if (nl == pos || s[nl - 1] != '\r') return false;
    if (++count > o.max_headers) return false;
    if (s[pos] == ' ' || s[pos] == '\t') return false;
    const char *colp = static_cast<const char *>(memchr(s + pos, ':', nl - pos));
    if (!colp || colp == s + pos) return false;
    size_t colon = colp - s;
    if (s[colon - 1] == ' ' || s[colon - 1] == '\t') return false;
    const char *name = s + pos;
    size_t len = colon - pos;
    if (len > o.header_name_max) return false;  // 431 is JavaScript's to answer
    if (field_problem(s, pos, colon, nl - 1)) return false;  // 400 likewise
    auto drop = [&]() {
      r.kept.append(s + run_start, pos - run_start);
      run_start = nl + 1;
    };
    if (len == 4 && ieq(name, len, "host")) {
      if (host_seen) return false;
      host_seen = true;
      r.host = header_value(s, colon, nl - 1);
      if (!valid_host(r.host)) return false;
    } else if (len == 14 && ieq(name, len, "content-length")) {
      drop();
      int64_t v = parse_length(header_value(s, colon, nl - 1));
      if (v < 0 || (length_seen && v != r.length)) return false;
      length_seen = true;
      r.length = v;
    } else if (len == 10 && ieq(name, len, "connection")) {
      drop();
      ConnTokens ct;
      connection_tokens(header_value(s, colon, nl - 1), ct);
      if (ct.upgrade || ct.others) return false;
      conn_close = conn_close || ct.close;
    } else if ((len == 17 && ieq(name, len, "transfer-encoding")) || (len == 7 && ieq(name, len, "upgrade")) || (len == 6 && ieq(name, len, "expect"))) {
      return false;
    } else if (len == 12 && ieq(name, len, "x-request-id")) {
      drop();
      r.request_id = header_value(s, colon, nl - 1);
    } else if (len == 15 && ieq(name, len, "x-forwarded-for")) {
      drop();
      std::string v = header_value(s, colon, nl - 1);
      if (!v.empty()) r.forwarded_for = r.forwarded_for.empty() ? v : r.forwarded_for + ", " + v;
    } else if (len == 3 && ieq(name, len, "via")) {
      drop();
      std::string v = header_value(s, colon, nl - 1);
      if (!v.empty()) r.via = r.via.empty() ? v : r.via + ", " + v;
    } else if ((len == 10 && ieq(name, len, "keep-alive")) || (len == 16 && ieq(name, len, "proxy-connection")) || (len == 2 && ieq(name, len, "te")) ||
               (len == 19 && ieq(name, len, "proxy-authorization")) || (len == 7 && ieq(name, len, "trailer")) ||
               (len == 15 && ieq(name, len, "x-request-start")) || (len == 16 && ieq(name, len, "x-forwarded-port")) || (len == 17 && ieq(name, len, "x-forwarded-proto"))) {
      drop();
    }
    pos = nl + 1;
  }
  if (run_start < n) r.kept.append(s + run_start, n - run_start);
  if (!host_seen) return false;
  r.had_length = length_seen;
  r.keep_alive = !conn_close;
  r.head_len = n + 2;
  return true;
}

// ------------------------------------------------------------------ the response head

enum class ResBody { kNone, kLength, kChunked, kClose };

struct Response {
  int status = 0;
  std::string status_text, kept, via, transfer_encoding;
  int64_t length = -1;
  bool chunked = false, keep_alive = true;
  size_t head_len = 0;
  void clear() {
    status = 0, length = -1, chunked = false, keep_alive = true, head_len = 0;
    status_text.clear(), kept.clear(), via.clear(), transfer_encoding.clear();
  }
};

// where a head ends ("\r\n\r\n" at the result), or npos
size_t head_end(const char *p, size_t n) {
  const void *f = memmem(p, n, "\r\n\r\n", 4);
  return f ? static_cast<const char *>(f) - p : std::string::npos;
}

std::string last_token_lower(const std::string &v) {
  size_t c = v.rfind(',');
  std::string t = v.substr(c == std::string::npos ? 0 : c + 1);
  size_t a = 0, b = t.size();
  while (a < b && (t[a] == ' ' || t[a] == '\t')) a++;
  while (b > a && (t[b - 1] == ' ' || t[b - 1] == '\t')) b--;
  std::string out = t.substr(a, b - a);
  for (char &ch : out) ch = (char)tolower((unsigned char)ch);
  return out;
}

// Header lines ("Name: value\r\n"…) without those whose lower-cased name is in names
// (header-names.ts's withoutHeaders).
std::string without_headers(const std::string &lines, const std::vector<std::string> &names) {
  std::string out;
  size_t pos = 0;
  while (pos < lines.size()) {
    size_t nl = lines.find('\n', pos);
    if (nl == std::string::npos) nl = lines.size() - 1;
    size_t colon = lines.find(':', pos);
    std::string name = lines.substr(pos, colon - pos);
    for (char &ch : name) ch = (char)tolower((unsigned char)ch);
    bool named = false;
    for (auto &n : names) named = named || n == name;
    if (!named) out.append(lines, pos, nl + 1 - pos);
    pos = nl + 1;
  }
  return out;
}

// s[0, n): the head up to and with its last header's CRLF. An empty string when it
// can be passed on, else the cause of H17.
std::string parse_response(const char *s, size_t n, Response &r) {
  const char *eol = static_cast<const char *>(memchr(s, '\n', n));
  if (!eol || eol[-1] != '\r' || (size_t)(eol - s) > 8193) return "bad status line";
  size_t cr = eol - 1 - s;
  if (n < 13 || memcmp(s, "HTTP/1.", 7) != 0 || s[8] != ' ' || s[12] != ' ' || cr < 13) return "bad status line";
  if (s[7] != '0' && s[7] != '1') return "bad status line";
  int minor = s[7] - '0';
  int status = 0;
  for (int i = 9; i < 12; i++) {
    if (s[i] < '0' || s[i] > '9') return "bad status code";
    status = status * 10 + (s[i] - '0');
  }
  if (status < 100) return "bad status code";
  r.status = status;
  r.status_text.assign(s + 9, cr - 9);
  bool length_seen = false, close = false, keep = false;
  std::vector<std::string> drop;  // headers the Connection header names: hop-by-hop
  size_t run_start = cr + 2, pos = cr + 2;
  while (pos < n) {
    const char *nlp = static_cast<const char *>(memchr(s + pos, '\n', n - pos));
    size_t nl = nlp - s;
    if (s[nl - 1] != '\r') return "bare LF";
    const char *colp = static_cast<const char *>(memchr(s + pos, ':', nl - pos));
    if (!colp || colp == s + pos) return "header line without colon";
    size_t colon = colp - s;
    const char *name = s + pos;
    size_t len = colon - pos;
    if (const char *wrong = field_problem(s, pos, colon, nl - 1)) return wrong;
    bool hop = true;
    if (len == 14 && ieq(name, len, "content-length")) {
      int64_t v = parse_length(header_value(s, colon, nl - 1));
      if (v < 0 || (length_seen && v != r.length)) return "bad Content-Length";
      length_seen = true;
      r.length = v;
    } else if (len == 17 && ieq(name, len, "transfer-encoding")) {
      std::string v = header_value(s, colon, nl - 1);
      r.transfer_encoding = r.transfer_encoding.empty() ? v : r.transfer_encoding + ", " + v;
    } else if (len == 10 && ieq(name, len, "connection")) {
      ConnTokens ct;
      connection_tokens(header_value(s, colon, nl - 1), ct);
      for (auto &n : ct.names) drop.push_back(std::move(n));
      close = close || ct.close;
      keep = keep || ct.keep_alive;
    } else if (len == 3 && ieq(name, len, "via")) {
      std::string v = header_value(s, colon, nl - 1);
      if (!v.empty()) r.via = r.via.empty() ? v : r.via + ", " + v;
    } else if (!((len == 10 && ieq(name, len, "keep-alive")) || (len == 16 && ieq(name, len, "proxy-connection")) || (len == 2 && ieq(name, len, "te")) ||
                 (len == 7 && ieq(name, len, "upgrade")))) {
      hop = false;
    }
    if (hop) {
      r.kept.append(s + run_start, pos - run_start);
      run_start = nl + 1;
    }
    pos = nl + 1;
  }
  if (run_start < n) r.kept.append(s + run_start, n - run_start);
  if (!drop.empty()) r.kept = without_headers(r.kept, drop);
  if (!r.transfer_encoding.empty()) {
    r.chunked = last_token_lower(r.transfer_encoding) == "chunked";
    r.length = -1;
  }
  r.keep_alive = minor == 1 ? !close : keep && !close;
  r.head_len = n + 2;
  return "";
}

ResBody response_body(const Response &r, const std::string &method) {
  if (r.status < 200 || r.status == 204 || r.status == 304 || method == "HEAD") return ResBody::kNone;
  if (!r.transfer_encoding.empty()) return r.chunked ? ResBody::kChunked : ResBody::kClose;
  if (r.length >= 0) return ResBody::kLength;
  return ResBody::kClose;
}

// RFC 9110 §9.2.2's idempotent methods: what may go to a dyno twice (exchange.ts's IDEMPOTENT)
bool idempotent(const std::string &m) {
  return m == "GET" || m == "HEAD" || m == "OPTIONS" || m == "TRACE" || m == "PUT" || m == "DELETE";
}

// chunked.ts's scanner: where a chunked body ends in the bytes passing by
class ChunkScanner {
 public:
  bool done() const { return st_ == kDone; }
  // bytes [0, n) of b: the offset past the body's end, n if it goes on, -1 if broken
  ssize_t scan(const char *b, size_t n) {
    size_t i = 0;
    while (i < n) {
      unsigned char c = (unsigned char)b[i];
      switch (st_) {
        case kData: {
          size_t k = (size_t)std::min<uint64_t>(left_, n - i);
          i += k;
          left_ -= k;
          if (left_ == 0) st_ = kDataCr;
          continue;
        }
        case kSize: {
          int v = hex(c);
          if (v >= 0) {
            if (++digits_ > 13) return fail();
            left_ = left_ * 16 + v;
          } else if (digits_ == 0) {
            return fail();
          } else if (c == '\r') {
            st_ = kSizeLf;
          } else if (c == ';' || c == ' ' || c == '\t') {
            st_ = kExt;
            line_ = 0;
          } else {
            return fail();
          }
          break;
        }
        // a control character (a bare LF above all) in an extension or a trailer line is
        // where a dyno that frames lines differently would find a request of its own
        case kExt:
          if (c == '\r') st_ = kSizeLf;
          else if (ctl(c) || ++line_ > kChunkLineMax) return fail();
          break;
        case kSizeLf:
          if (c != '\n') return fail();
          digits_ = 0;
          st_ = left_ == 0 ? kTrailerStart : kData;
          break;
        case kDataCr:
          if (c != '\r') return fail();
          st_ = kDataLf;
          break;
        case kDataLf:
          if (c != '\n') return fail();
          st_ = kSize;
          break;
        case kTrailerStart:
          if (c == '\r') {
            st_ = kFinalLf;
          } else if (ctl(c)) {
            return fail();
          } else {
            st_ = kTrailer;
            line_ = 1;
          }
          break;
        case kTrailer:
          if (c == '\r') st_ = kTrailerLf;
          else if (ctl(c) || ++line_ > kChunkLineMax) return fail();
          break;
        case kTrailerLf:
          if (c != '\n') return fail();
          st_ = kTrailerStart;
          break;
        case kFinalLf:
          if (c != '\n') return fail();
          st_ = kDone;
          return (ssize_t)i + 1;
        default:
          return st_ == kDone ? (ssize_t)i : -1;
      }
      i++;
    }
    return (ssize_t)n;
  }

 private:
  enum St { kSize, kExt, kSizeLf, kData, kDataCr, kDataLf, kTrailerStart, kTrailer, kTrailerLf, kFinalLf, kDone, kBad };
  static int hex(unsigned char c) {
    if (c >= '0' && c <= '9') return c - '0';
    unsigned char l = c | 0x20;
    if (l >= 'a' && l <= 'f') return l - 'a' + 10;
    return -1;
  }
  ssize_t fail() {
    st_ = kBad;
    return -1;
  }
  St st_ = kSize;
  uint64_t left_ = 0;
  int digits_ = 0;
  size_t line_ = 0;
};

bool valid_request_id(const std::string &id) {
  if (id.size() < 20 || id.size() > 200) return false;
  for (unsigned char c : id)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '+' || c == '/' || c == '=' || c == '-')) return false;
  return true;
}

// ------------------------------------------------------------------ TLS

// OpenSSL's queued errors as one line (and the queue emptied)
std::string ssl_errors() {
  std::string out;
  char buf[256];
  while (unsigned long e = ERR_get_error()) {
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "unknown error" : out;
}

// As the JavaScript router's listener (ALPNProtocols ['http/1.1']): HTTP/1.1 or no ALPN
int select_alpn(SSL *, const unsigned char **out, unsigned char *outlen, const unsigned char *in, unsigned int inlen, void *) {
  static const unsigned char kHttp11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
  unsigned char *sel = nullptr;
  if (SSL_select_next_proto(&sel, outlen, kHttp11, sizeof kHttp11, in, inlen) != OPENSSL_NPN_NEGOTIATED) return SSL_TLSEXT_ERR_NOACK;
  *out = sel;
  return SSL_TLSEXT_ERR_OK;
}

// no passphrase prompt: an encrypted key is refused
int no_passphrase(char *, int, int, void *) { return 0; }

// A server context for the certificate (then its chain) and key, PEM, offering the
// ciphers of an OpenSSL cipher string whose TLS_* names are TLS 1.3 suites (Node's
// tls.DEFAULT_CIPHERS, as the JavaScript listener offers); nullptr with why.
SSL_CTX *tls_context(const std::string &cert, const std::string &key, const std::string &ciphers, std::string &why) {
  ERR_clear_error();
  SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
  if (!ctx) {
    why = ssl_errors();
    return nullptr;
  }
  auto bad = [&](const char *what) -> SSL_CTX * {
    why = std::string(what) + ": " + ssl_errors();
    SSL_CTX_free(ctx);
    return nullptr;
  };
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  // a client's FIN without close_notify ends its stream as a close would
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION | SSL_OP_IGNORE_UNEXPECTED_EOF);
  // partial writes and a buffer that moves between retries: what waits for a client is a std::string
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
  // one read() takes several records; SSL_has_pending says when the kernel has the rest
  SSL_CTX_set_read_ahead(ctx, 1);
  // resumption by tickets only: no server-side cache to grow with the clients seen
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_alpn_select_cb(ctx, select_alpn, nullptr);
  if (!ciphers.empty()) {
    std::string v13, v12;
    size_t a = 0;
    while (a <= ciphers.size()) {
      size_t b = ciphers.find(':', a);
      if (b == std::string::npos) b = ciphers.size();
      std::string name = ciphers.substr(a, b - a);
      std::string &to = name.compare(0, 4, "TLS_") == 0 ? v13 : v12;
      if (!name.empty()) to += (to.empty() ? "" : ":") + name;
      a = b + 1;
    }
    if ((!v13.empty() && SSL_CTX_set_ciphersuites(ctx, v13.c_str()) != 1) || (!v12.empty() && SSL_CTX_set_cipher_list(ctx, v12.c_str()) != 1)) return bad("ciphers");
  }
  BIO *b = BIO_new_mem_buf(cert.data(), (int)cert.size());
  if (!b) return bad("certificate");
  X509 *leaf = PEM_read_bio_X509_AUX(b, nullptr, no_passphrase, nullptr);
  if (!leaf || SSL_CTX_use_certificate(ctx, leaf) != 1) {
    X509_free(leaf);
    BIO_free(b);
    return bad("certificate");
  }
  X509_free(leaf);
  while (X509 *ca = PEM_read_bio_X509(b, nullptr, no_passphrase, nullptr)) {
    if (SSL_CTX_add0_chain_cert(ctx, ca) != 1) {
      X509_free(ca);
      BIO_free(b);
      return bad("certificate chain");
    }
  }
  ERR_clear_error();  // the end of the PEM text
  BIO_free(b);
  b = BIO_new_mem_buf(key.data(), (int)key.size());
  EVP_PKEY *pk = b ? PEM_read_bio_PrivateKey(b, nullptr, no_passphrase, nullptr) : nullptr;
  BIO_free(b);
  if (!pk || SSL_CTX_use_PrivateKey(ctx, pk) != 1) {
    EVP_PKEY_free(pk);
    return bad("private key");
  }
  EVP_PKEY_free(pk);
  if (SSL_CTX_check_private_key(ctx) != 1) return bad("private key");
  return ctx;
}

// ------------------------------------------------------------------ the plane's state

struct Backend {
  PlaneBackend spec;
  // What both planes share, JavaScript with Atomics on a BigInt64Array over it: [0] the
  // requests in flight, [1] the end of the dyno's quarantine in CLOCK_MONOTONIC ms
  // (process.hrtime's clock), [2] its code: 19 (H19) or 21 (H21)
  alignas(8) int64_t shared[3] = {0, 0, 21};
  int64_t *in_flight() { return &shared[0]; }
  bool quarantined(double now) { return __atomic_load_n(&shared[1], __ATOMIC_RELAXED) > (int64_t)now; }
  void quarantine(double until, int code) {
    __atomic_store_n(&shared[2], (int64_t)code, __ATOMIC_RELAXED);
    __atomic_store_n(&shared[1], (int64_t)until, __ATOMIC_RELEASE);
  }
  ~Backend() {
    if (spec.pidfd >= 0) close(spec.pidfd);
  }
};
using BackendPtr = std::shared_ptr<Backend>;

enum class Tag : uint8_t { kListen, kWake, kClient, kUp, kPair };

struct Handle {
  Tag tag;
  int fd = -1;
  uint32_t events = 0;
  explicit Handle(Tag t) : tag(t) {}
};

struct Listener : Handle {
  int port = 0;
  bool tls = false;
  double resting_until = 0;  // out of fds: taken out of the epoll set until then
  Listener() : Handle(Tag::kListen) {}
};

struct Client;

// The plane's end of the socketpair a TLS connection reaches JavaScript through.
struct Pair : Handle {
  Client *c = nullptr;
  bool eof = false;        // JavaScript ended its side
  bool wr_closed = false;  // the client's end passed on
  Pair() : Handle(Tag::kPair) {}
};

struct Up : Handle {
  BackendPtr b;
  Client *user = nullptr;
  int uses = 0;
  bool connecting = false;
  bool in_pool = false;
  double since = 0;  // idle since, or connect started
  std::string out;
  size_t out_off = 0;
  Up() : Handle(Tag::kUp) {}
};

enum class Phase { kIdle, kConnecting, kSent, kRelaying };

struct Client : Handle {
  std::string in;  // bytes read, from the current request on
  std::string out;
  size_t out_off = 0;
  bool eof = false, close_after_flush = false, handoff_when_flushed = false, dead = false, lingering = false;
  double last = 0;  // last byte either way
  std::string ip;
  int port = 0;  // the listener's
  // TLS: the session, its handshake, an SSL_read waiting for the socket to take bytes
  // (a TLS 1.3 KeyUpdate's answer)
  SSL *ssl = nullptr;
  bool handshaking = false, read_wants_write = false;
  // the plane stopped reading (a bound, a handoff to come) with TLS perhaps holding records
  // already read from the socket; false once a read ran dry (the rest is the kernel's)
  bool held_back = false;
  // after a handoff: the socketpair to JavaScript, the client's plain bytes on their way
  // there, and the close_notify and FIN sent once JavaScript ended
  Pair *pair = nullptr;
  std::string to_js;
  size_t to_js_off = 0;
  bool shut = false;
  // the exchange in progress
  Phase phase = Phase::kIdle;
  Request req;
  std::string request_id, fwd, up_req;
  BackendPtr b;
  Up *up = nullptr;
  bool reused = false, retried = false, got_byte = false, head_sent = false, close_after = false, up_reusable = false;
  double t_dispatch = -1, t_connect0 = 0, connect_ms = -1, deadline = 0;
  // the dyno whose connect failed just before the handoff that follows (JavaScript tries
  // the others and logs this one's name and connect time if none answers), 0 if none
  uint64_t tried_id = 0;
  std::string rbuf;
  Response res;
  ResBody kind = ResBody::kNone;
  int64_t left = 0;
  ChunkScanner chunks;
  double bytes = 0;
  Client() : Handle(Tag::kClient) {}
};

}  // namespace

class Loop;

class Plane {
 public:
  PlaneOptions opts;
  int notify_fd = -1;
  std::vector<std::unique_ptr<Loop>> loops;
  std::vector<std::thread> threads;
  std::mutex mu;  // backends, events
  std::vector<BackendPtr> backends;
  std::atomic<uint64_t> version{1};
  std::condition_variable taken;  // a loop took a new list of dynos (with mu)
  std::vector<PlaneEvent> events;
  std::atomic<uint64_t> requests{0};
  std::atomic<bool> stopping{false};
  std::shared_ptr<int64_t> wait_flag = std::make_shared<int64_t>(0);
  SSL_CTX *tls = nullptr;  // the TLS listener's, shared by the threads
  ~Plane() {
    if (tls) SSL_CTX_free(tls);
  }

  void post(std::vector<PlaneEvent> &batch) {
    if (batch.empty()) return;
    bool was_empty;
    {
      std::lock_guard<std::mutex> g(mu);
      was_empty = events.empty();
      for (auto &e : batch) events.push_back(std::move(e));
    }
    batch.clear();
    if (was_empty) {
      uint64_t one = 1;
      ssize_t rc = write(notify_fd, &one, sizeof one);
      (void)rc;
    }
  }
};

namespace {

class Rng {
 public:
  Rng() {
    if (getrandom(&s_, sizeof s_, 0) != sizeof s_ || s_ == 0) s_ = (uint64_t)mono_ms() ^ 0x9e3779b97f4a7c15ull;
  }
  uint64_t next() {
    s_ ^= s_ << 13;
    s_ ^= s_ >> 7;
    s_ ^= s_ << 17;
    return s_;
  }

 private:
  uint64_t s_;
};

}  // namespace

class Loop {
 public:
  Loop(Plane *p, size_t index) : plane_(p), index_(index) {}
  ~Loop() {
    for (auto *c : clients_) {
      if (c->ssl) SSL_free(c->ssl);
      if (c->fd >= 0) close(c->fd);
      delete c;
    }
    for (auto *p : pairs_) {
      if (p->fd >= 0) close(p->fd);
      delete p;
    }
    for (auto *u : ups_) {
      if (u->fd >= 0) close(u->fd);
      delete u;
    }
    if (ep_ >= 0) close(ep_);
    if (wake_.fd >= 0) close(wake_.fd);
  }

  bool init(StepError &err) {
    ep_ = epoll_create1(EPOLL_CLOEXEC);
    if (ep_ < 0) return fail_step(err, "router plane", "epoll_create1");
    wake_.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (wake_.fd < 0) return fail_step(err, "router plane", "eventfd");
    if (!add(&wake_, EPOLLIN)) return fail_step(err, "router plane", "epoll_ctl");
    const auto &fds = plane_->opts.listen_fds;
    const size_t threads = (size_t)std::max(1, plane_->opts.threads);
    listens_.reserve(fds.size() / threads + 1);
    for (size_t i = index_; i < fds.size(); i += threads) {
      listens_.emplace_back();
      listens_.back().fd = fds[i];
      listens_.back().port = plane_->opts.listen_ports[i];
      listens_.back().tls = i < plane_->opts.listen_tls.size() && plane_->opts.listen_tls[i];
    }
    for (auto &l : listens_)
      if (!add(&l, EPOLLIN)) return fail_step(err, "router plane", "epoll_ctl");
    return true;
  }

  void wake() {
    uint64_t one = 1;
    ssize_t rc = write(wake_.fd, &one, sizeof one);
    (void)rc;
  }

  void run() {
    epoll_event evs[256];
    double last_sweep = mono_ms();
    while (!plane_->stopping.load(std::memory_order_relaxed)) {
      // the dynos listed now (plane_set_backends wakes the loop): idle connections to those gone close
      uint64_t v = plane_->version.load(std::memory_order_acquire);
      if (v != seen_version_) refresh();
      // lines wait up to kLinesEvery for company: a wake-up of JavaScript per request
      // would cost more than the request
      int timeout = !pending_reads_.empty() ? 0 : batch_.empty() ? 100 : std::max(0, (int)(last_post_ + kLinesEvery - mono_ms()) + 1);
      int n = epoll_wait(ep_, evs, 256, timeout);
      now_ = mono_ms();
      for (int i = 0; i < n; i++) {
        Handle *h = static_cast<Handle *>(evs[i].data.ptr);
        uint32_t e = evs[i].events;
        switch (h->tag) {
          case Tag::kListen: accept_all(static_cast<Listener *>(h)); break;
          case Tag::kWake: {
            uint64_t v;
            ssize_t rc = read(h->fd, &v, sizeof v);
            (void)rc;
            break;
          }
          case Tag::kClient: on_client(static_cast<Client *>(h), e); break;
          case Tag::kUp: on_up(static_cast<Up *>(h), e); break;
          case Tag::kPair: on_pair(static_cast<Pair *>(h), e); break;
        }
      }
      if (now_ - last_sweep >= 100) {
        sweep();
        last_sweep = now_;
      }
      // once a round: what these read may make more (the next round's; reap() drops the dead)
      if (!pending_reads_.empty()) {
        std::vector<Client *> todo;
        todo.swap(pending_reads_);
        for (Client *c : todo)
          if (!c->dead && c->held_back) on_client(c, EPOLLIN);
      }
      reap();
      publish_counts();
      if (post_now_ || (!batch_.empty() && now_ - last_post_ >= kLinesEvery)) {
        plane_->post(batch_);
        last_post_ = now_;
        post_now_ = false;
      }
    }
    plane_->post(batch_);  // the last lines, for plane_stop's caller
  }

  // the version of the dynos list this loop picks from (read with the plane's mu)
  uint64_t seen_version() const { return seen_version_; }

  void stats(PlaneStats &s, std::unordered_map<uint64_t, int> &idle) {
    std::lock_guard<std::mutex> g(stats_mu_);
    s.clients += n_clients_;
    for (auto &kv : idle_by_id_) idle[kv.first] += kv.second;
  }

 private:
  // ---------------------------------------------------------------- epoll
  bool add(Handle *h, uint32_t ev) {
    epoll_event e{};
    e.events = ev;
    e.data.ptr = h;
    h->events = ev;
    return epoll_ctl(ep_, EPOLL_CTL_ADD, h->fd, &e) == 0;
  }
  void mod(Handle *h, uint32_t ev) {
    if (h->events == ev) return;
    epoll_event e{};
    e.events = ev;
    e.data.ptr = h;
    h->events = ev;
    epoll_ctl(ep_, EPOLL_CTL_MOD, h->fd, &e);
  }
  // what plane_stats reads, once a round
  void publish_counts() {
    std::lock_guard<std::mutex> g(stats_mu_);
    // a relayed TLS connection is one of JavaScript's
    n_clients_ = (int)(clients_.size() - pairs_.size());
    idle_by_id_.clear();
    for (auto &kv : pool_)
      if (!kv.second.empty()) idle_by_id_[kv.first->spec.id] += (int)kv.second.size();
  }

  // ---------------------------------------------------------------- clients
  void accept_all(Listener *l) {
    for (;;) {
      sockaddr_storage sa;
      socklen_t len = sizeof sa;
      int fd = accept4(l->fd, reinterpret_cast<sockaddr *>(&sa), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        // out of fds or memory: the listener rests a moment (it stays ready: the loop would spin)
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
          epoll_ctl(ep_, EPOLL_CTL_DEL, l->fd, nullptr);
          l->resting_until = now_ + 100;
        }
        return;
      }
      int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      auto *c = new Client();
      c->fd = fd;
      c->last = now_;
      c->ip = address_text(sa);
      c->port = l->port;
      clients_.push_back(c);
      if (l->tls) {
        c->ssl = SSL_new(plane_->tls);
        if (!c->ssl || SSL_set_fd(c->ssl, fd) != 1) {
          ERR_clear_error();
          kill_client(c);
          continue;
        }
        SSL_set_accept_state(c->ssl);
        c->handshaking = true;
      }
      if (!add(c, EPOLLIN | EPOLLRDHUP)) {
        kill_client(c);
        continue;
      }
    }
  }

  static std::string address_text(const sockaddr_storage &sa) {
    char buf[INET6_ADDRSTRLEN] = "";
    if (sa.ss_family == AF_INET) {
      inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in &>(sa).sin_addr, buf, sizeof buf);
    } else if (sa.ss_family == AF_INET6) {
      const auto &a6 = reinterpret_cast<const sockaddr_in6 &>(sa).sin6_addr;
      // X-Forwarded-For shows IPv4 without its ::ffff: prefix (forward-headers.ts)
      if (IN6_IS_ADDR_V4MAPPED(&a6)) inet_ntop(AF_INET, &a6.s6_addr[12], buf, sizeof buf);
      else inet_ntop(AF_INET6, &a6, buf, sizeof buf);
    }
    return buf;
  }

  // Nothing more goes to the client: close_notify over TLS (best effort, as the FIN), then FIN.
  void end_to_client(Client *c) {
    if (c->ssl) {
      ERR_clear_error();
      SSL_shutdown(c->ssl);
      ERR_clear_error();
    }
    shutdown(c->fd, SHUT_WR);
  }

  // The answer is out and the connection ends: FIN, then what the client still sends is
  // read and dropped until it closes (a close with unread bytes would send a RST, which
  // can destroy the answer in flight).
  void linger(Client *c) {
    end_to_client(c);
    c->lingering = true;
    c->last = now_;
    mod(c, kReading);
  }

  void on_client(Client *c, uint32_t e) {
    if (c->dead) return;
    if (c->lingering) {
      char buf[4096];
      ssize_t n;
      while ((n = read(c->fd, buf, sizeof buf)) > 0) {
      }
      if (n == 0 || (errno != EAGAIN && errno != EINTR)) kill_client(c);
      return;
    }
    if (c->pair) return on_piped_client(c, e);
    if (c->handshaking) {
      handshake(c);
      if (c->dead || c->handshaking) return;
      e |= EPOLLIN;  // read ahead: the first request may have come with the handshake's end
    }
    e = writable_reads(c, e);
    if (e & EPOLLOUT) {
      if (!flush_client(c)) return;
    }
    if (e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
      if (!c->eof) read_client(c);
      if (c->dead) return;
      if (c->eof && c->phase != Phase::kIdle) {
        // the client went away while its request was in flight (H27, as nginx's 499)
        fail(c, "H27", 499);
        return;
      }
      if (c->eof && (e & (EPOLLHUP | EPOLLERR))) {
        kill_client(c);
        return;
      }
      if (c->eof) mod(c, c->events & ~kReading);
    }
    next(c);
  }

  void read_client(Client *c) {
    char buf[kReadChunk];
    for (;;) {
      // a client that sends ahead of its answers is read up to a bound (next() hands
      // over a head or body larger than the plane takes)
      if (c->in.size() > kHeadMax + kBodyMax || c->close_after_flush || c->handoff_when_flushed) {
        c->held_back = true;
        mod(c, c->events & ~kReading);
        return;
      }
      ssize_t n = client_read(c, buf, sizeof buf);
      if (n > 0) {
        c->in.append(buf, n);
        c->last = now_;
        if (!more_to_read(c, (size_t)n, sizeof buf)) {
          c->held_back = false;
          return;
        }
        continue;
      }
      c->held_back = false;
      if (n != kWouldBlock) c->eof = true;
      return;
    }
  }

  // ---------------------------------------------------------------- the client's bytes, plain or TLS
  static constexpr ssize_t kWouldBlock = -1, kBroken = -2;

  void handshake(Client *c) {
    ERR_clear_error();
    int r = SSL_do_handshake(c->ssl);
    if (r == 1) {
      c->handshaking = false;
      c->last = now_;
      mod(c, kReading);
      return;
    }
    int e = SSL_get_error(c->ssl, r);
    ERR_clear_error();
    // a failed handshake is the client's business, as for the JavaScript listener
    if (e == SSL_ERROR_WANT_READ) mod(c, kReading);
    else if (e == SSL_ERROR_WANT_WRITE) mod(c, kReading | EPOLLOUT);
    else kill_client(c);
  }

  // A socket that takes bytes again lets an SSL_read waiting for that read on.
  static uint32_t writable_reads(Client *c, uint32_t e) {
    if (!(e & EPOLLOUT) || !c->read_wants_write) return e;
    c->read_wants_write = false;
    return e | EPOLLIN;
  }

  // A read or write of a plain socket, again after EINTR: its bytes, kWouldBlock or kBroken.
  template <typename Io>
  static ssize_t plain_io(Io io) {
    ssize_t r;
    do r = io();
    while (r < 0 && errno == EINTR);
    if (r < 0) return errno == EAGAIN ? kWouldBlock : kBroken;
    return r;
  }

  // bytes read, 0 at the client's end, kWouldBlock, or kBroken
  ssize_t client_read(Client *c, char *buf, size_t n) {
    if (!c->ssl) return plain_io([&] { return read(c->fd, buf, n); });
    ERR_clear_error();
    size_t got = 0;
    if (SSL_read_ex(c->ssl, buf, n, &got) == 1) return (ssize_t)got;
    int e = SSL_get_error(c->ssl, 0);
    ERR_clear_error();
    switch (e) {
      case SSL_ERROR_WANT_READ: return kWouldBlock;
      case SSL_ERROR_WANT_WRITE:
        c->read_wants_write = true;
        mod(c, c->events | EPOLLOUT);
        return kWouldBlock;
      case SSL_ERROR_ZERO_RETURN: return 0;
      default: return kBroken;
    }
  }

  // after a read of n into a buffer of size: whether another read may find more now
  // (level-triggered epoll reports what the kernel holds; TLS may hold records already read)
  static bool more_to_read(Client *c, size_t n, size_t size) { return c->ssl ? SSL_has_pending(c->ssl) == 1 : n == size; }

  // Reading on again. Records TLS read from the socket before the plane stopped reading
  // are no longer the kernel's: epoll will not report them, so the round reads them. (Not
  // after a read that ran dry: SSL_has_pending is also true for half a record, whose rest
  // epoll does report.)
  void resume_read(Client *c) {
    if (!(c->events & EPOLLIN)) mod(c, c->events | kReading);
    if (c->ssl && c->held_back && !c->handshaking && SSL_has_pending(c->ssl) == 1) pending_reads_.push_back(c);
  }

  // bytes the client took, kWouldBlock, or kBroken
  ssize_t client_write(Client *c, const char *p, size_t n) {
    if (!c->ssl) return plain_io([&] { return write(c->fd, p, n); });
    ERR_clear_error();
    size_t w = 0;
    if (SSL_write_ex(c->ssl, p, n, &w) == 1) return (ssize_t)w;
    int e = SSL_get_error(c->ssl, 0);
    ERR_clear_error();
    // (a write never waits for a read: renegotiation is off)
    return e == SSL_ERROR_WANT_WRITE ? kWouldBlock : kBroken;
  }

  // Writes c->out from out_off: 1 all of it (c->out emptied), 0 the client is slow
  // (EPOLLOUT asked for), -1 the client is gone.
  int write_out(Client *c) {
    while (c->out_off < c->out.size()) {
      ssize_t n = client_write(c, c->out.data() + c->out_off, c->out.size() - c->out_off);
      if (n > 0) {
        c->out_off += n;
        c->last = now_;
        continue;
      }
      if (n == kWouldBlock) {
        mod(c, c->events | EPOLLOUT);
        return 0;
      }
      return -1;
    }
    c->out.clear();
    c->out_off = 0;
    return 1;
  }

  // Writes what waits for the client; false when the client is gone.
  bool flush_client(Client *c) {
    int st = write_out(c);
    if (st == 0) return true;
    if (st < 0) {
      // the client is gone: H27 if a request is in flight
      if (c->phase != Phase::kIdle) {
        c->out.clear();
        c->out_off = 0;
        fail(c, "H27", 499);
      } else {
        kill_client(c);
      }
      return false;
    }
    if (!c->read_wants_write) mod(c, c->events & ~EPOLLOUT);
    // a dyno paused for a slow client reads again
    if (c->up && c->phase == Phase::kRelaying) mod(c->up, c->up->events | kReading);
    if (c->close_after_flush) {
      linger(c);
      return false;
    }
    if (c->handoff_when_flushed) {
      handoff(c);
      return false;
    }
    return true;
  }

  void send_client(Client *c, const char *p, size_t n) { send_client(c, nullptr, 0, p, n); }

  // a head and body bytes after it, in one write when nothing waits before them
  void send_client(Client *c, const char *h, size_t hn, const char *p, size_t n) {
    if (hn + n == 0) return;
    if (c->ssl) {
      // one record for head and body: gathered, then one SSL_write
      bool was_empty = c->out.empty();
      c->out.append(h, hn);
      c->out.append(p, n);
      if (was_empty && write_out(c) < 0) {
        c->out.clear();
        c->out_off = 0;
        c->eof = true;  // gone: seen as H27 by the next look at the connection
        return;
      }
      if (c->up && c->out.size() - c->out_off > kClientOutHigh) mod(c->up, c->up->events & ~kReading);
      return;
    }
    if (c->out.empty()) {
      // the common case: straight out, no copy
      iovec iov[2] = {{const_cast<char *>(h), hn}, {const_cast<char *>(p), n}};
      int first = hn == 0 ? 1 : 0;
      ssize_t w;
      do w = writev(c->fd, iov + first, 2 - first);
      while (w < 0 && errno == EINTR);
      if (w < 0 && errno != EAGAIN) {
        c->eof = true;  // gone: seen as H27 by the next look at the connection
        return;
      }
      if (w > 0) {
        c->last = now_;
        size_t k = (size_t)w;
        size_t from_h = std::min(k, hn);
        h += from_h;
        hn -= from_h;
        k -= from_h;
        p += k;
        n -= k;
      }
      if (hn + n == 0) return;
      mod(c, c->events | EPOLLOUT);
    }
    c->out.append(h, hn);
    c->out.append(p, n);
    if (c->up && c->out.size() - c->out_off > kClientOutHigh) mod(c->up, c->up->events & ~kReading);
  }

  // The next request on c, when there is no exchange: served here, or handed over.
  void next(Client *c) {
    if (c->dead || c->phase != Phase::kIdle || c->close_after_flush || c->handoff_when_flushed) return;
    if (c->in.empty()) {
      if (c->eof && c->out_off >= c->out.size()) kill_client(c);
      else if (!c->eof) resume_read(c);
      return;
    }
    // blank lines before a request line: JavaScript skips them (RFC 9112 §2.2)
    if (c->in[0] == '\r' || c->in[0] == '\n') return handoff_soon(c);
    // a client that half-closed: JavaScript's rules (H27 for a request in flight)
    if (c->eof) return handoff_soon(c);
    size_t blank = head_end(c->in.data(), std::min(c->in.size(), kHeadMax + 2));
    if (blank == std::string::npos) {
      // JavaScript refuses a bare LF (400) rather than wait for an end that never comes
      if (c->in.size() > kHeadMax || bare_lf(c->in.data(), c->in.size())) handoff_soon(c);
      return;
    }
    Request &r = c->req;
    r.clear();
    if (blank + 2 > kHeadMax || !take_request(c->in.data(), blank + 2, plane_->opts, r)) return handoff_soon(c);
    if (r.length > (int64_t)kBodyMax || c->in.size() < r.head_len + (size_t)r.length) return handoff_soon(c);
    BackendPtr b = pick();
    if (!b) return handoff_soon(c);
    plane_->requests.fetch_add(1, std::memory_order_relaxed);
    dispatch(c, std::move(b));
  }

  void handoff_soon(Client *c) {
    if (c->out_off < c->out.size()) {
      // the answer before it goes out first, in order
      c->handoff_when_flushed = true;
      return;
    }
    handoff(c);
  }

  void handoff(Client *c) {
    if (c->ssl) return pipe_to_js(c);
    epoll_ctl(ep_, EPOLL_CTL_DEL, c->fd, nullptr);
    post_handoff(c, c->fd, false);
    c->fd = -1;
    c->dead = true;
  }

  // JavaScript's from now on: fd (the client's, or its relay's end) with what was read of it
  void post_handoff(Client *c, int fd, bool tls) {
    PlaneEvent ev;
    ev.kind = PlaneEvent::kHandoff;
    ev.fd = fd;
    ev.bytes = std::move(c->in);
    c->in.clear();
    ev.ip = c->ip;
    ev.port = c->port;
    ev.tls = tls;
    ev.tried_id = c->tried_id;
    ev.connect_ms = c->tried_id != 0 ? c->connect_ms : -1;
    batch_.push_back(std::move(ev));
    post_now_ = true;
  }

  // ---------------------------------------------------------------- a TLS connection's handoff
  // The session cannot change hands: JavaScript gets one end of a socketpair and the
  // plane relays the plain bytes both ways for the rest of the connection. Ends pass
  // through: the client's as the pair's FIN; JavaScript's as close_notify and FIN.
  void pipe_to_js(Client *c) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0) return kill_client(c);
    auto *p = new Pair();
    p->fd = sv[1];
    p->c = c;
    pairs_.push_back(p);
    c->pair = p;
    if (!add(p, kReading)) {
      close(sv[0]);
      return kill_client(c);
    }
    post_handoff(c, sv[0], true);
    c->handoff_when_flushed = false;
    c->last = now_;
    if (c->eof) {
      shutdown(p->fd, SHUT_WR);
      p->wr_closed = true;
    } else {
      resume_read(c);
    }
  }

  void on_piped_client(Client *c, uint32_t e) {
    if (c->eof && (e & (EPOLLHUP | EPOLLERR))) {
      // the client is gone both ways (epoll says so every round): nothing more goes to it;
      // what it sent still goes to JavaScript
      epoll_ctl(ep_, EPOLL_CTL_DEL, c->fd, nullptr);
      c->events = 0;
      c->out.clear();
      c->out_off = 0;
      c->shut = true;
      if (flush_pair(c)) end_pipe(c);
      return;
    }
    e = writable_reads(c, e);
    if (e & EPOLLOUT) {
      int st = write_out(c);
      if (st < 0) return kill_client(c);
      if (st == 1) {
        if (!c->read_wants_write) mod(c, c->events & ~EPOLLOUT);
        if (!c->pair->eof) mod(c->pair, c->pair->events | kReading);  // paused for a slow client
      }
    }
    if ((e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) && !c->eof) {
      char buf[kReadChunk];
      for (;;) {
        if (c->to_js.size() - c->to_js_off > kClientOutHigh) {  // JavaScript reads slowly: the client waits
          c->held_back = true;
          mod(c, c->events & ~kReading);
          break;
        }
        ssize_t n = client_read(c, buf, sizeof buf);
        if (n > 0) {
          if (!c->pair->wr_closed) c->to_js.append(buf, n);  // (JavaScript gone: dropped)
          if (!c->shut) c->last = now_;  // after our close_notify, the client's bytes buy it no time
          if (!more_to_read(c, (size_t)n, sizeof buf)) {
            c->held_back = false;
            break;
          }
          continue;
        }
        c->held_back = false;
        if (n == kWouldBlock) break;
        if (n == kBroken) return kill_client(c);
        c->eof = true;
        mod(c, c->events & ~kReading);
        break;
      }
      if (!flush_pair(c)) return;
    }
    end_pipe(c);
  }

  // What the client sent, to JavaScript; false when the connection is gone.
  bool flush_pair(Client *c) {
    Pair *p = c->pair;
    while (c->to_js_off < c->to_js.size()) {
      ssize_t n = write(p->fd, c->to_js.data() + c->to_js_off, c->to_js.size() - c->to_js_off);
      if (n > 0) {
        c->to_js_off += n;
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) {
        // what went out is dropped now and then, or a steady upload would keep all of it
        if (c->to_js_off >= 64 * 1024) {
          c->to_js.erase(0, c->to_js_off);
          c->to_js_off = 0;
        }
        mod(p, p->events | EPOLLOUT);
        return true;
      }
      kill_client(c);  // JavaScript closed its end
      return false;
    }
    c->to_js.clear();
    c->to_js_off = 0;
    mod(p, p->events & ~EPOLLOUT);
    if (c->eof) {
      if (!p->wr_closed) shutdown(p->fd, SHUT_WR);
      p->wr_closed = true;
    } else {
      resume_read(c);
    }
    return true;
  }

  void on_pair(Pair *p, uint32_t e) {
    Client *c = p->c;
    if (p->fd < 0 || !c || c->dead) return;
    if (e & (EPOLLHUP | EPOLLERR)) {
      // JavaScript closed its socket (epoll says so every round): the client gets what
      // JavaScript wrote, then close_notify and FIN; what the client sends is dropped
      epoll_ctl(ep_, EPOLL_CTL_DEL, p->fd, nullptr);
      p->events = 0;
      p->eof = true;
      p->wr_closed = true;
      c->to_js.clear();
      c->to_js_off = 0;
      end_pipe(c);
      return;
    }
    if ((e & EPOLLOUT) && !flush_pair(c)) return;
    if ((e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) && !p->eof) {
      char buf[kReadChunk];
      for (;;) {
        if (c->out.size() - c->out_off > kClientOutHigh) {  // a slow client: JavaScript's bytes wait
          mod(p, p->events & ~kReading);
          break;
        }
        ssize_t n = read(p->fd, buf, sizeof buf);
        if (n > 0) {
          bool was_empty = c->out.empty();
          c->out.append(buf, n);
          if (was_empty && write_out(c) < 0) return kill_client(c);
          if ((size_t)n < sizeof buf) break;
          continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) break;
        if (n < 0) return kill_client(c);
        p->eof = true;
        mod(p, p->events & ~kReading);
        break;
      }
    }
    end_pipe(c);
  }

  void end_pipe(Client *c) {
    Pair *p = c->pair;
    if (!p || c->dead) return;
    // JavaScript ended and the client has all of it: close_notify, then FIN
    if (p->eof && c->out.empty() && !c->shut) {
      end_to_client(c);
      c->shut = true;
      c->last = now_;
    }
    if (c->shut && c->eof && p->wr_closed) kill_client(c);
  }

  // ---------------------------------------------------------------- checkout
  BackendPtr pick() {
    // requests wait in JavaScript's backlog for room: this one queues behind them, in order
    if (__atomic_load_n(plane_->wait_flag.get(), __ATOMIC_ACQUIRE) != 0) return nullptr;
    size_t n = backends_.size();
    if (n == 0) return nullptr;
    size_t start = rng_.next() % n;
    for (size_t k = 0; k < n; k++) {
      const BackendPtr &b = backends_[(start + k) % n];
      if (b->quarantined(now_)) continue;
      int64_t f = __atomic_load_n(b->in_flight(), __ATOMIC_RELAXED);
      while (f < plane_->opts.max_in_flight) {
        if (__atomic_compare_exchange_n(b->in_flight(), &f, f + 1, true, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) return b;
      }
    }
    return nullptr;
  }

  void refresh() {
    {
      std::lock_guard<std::mutex> g(plane_->mu);
      backends_ = plane_->backends;
      seen_version_ = plane_->version.load();
    }
    plane_->taken.notify_all();
    // idle connections to dynos no longer listed close (draining, gone)
    for (auto it = pool_.begin(); it != pool_.end();) {
      if (listed(it->first)) {
        ++it;
        continue;
      }
      for (Up *u : it->second) {
        u->in_pool = false;
        kill_up(u);
      }
      it = pool_.erase(it);
    }
  }

  // ---------------------------------------------------------------- the exchange
  void dispatch(Client *c, BackendPtr b) {
    c->b = std::move(b);
    c->phase = Phase::kConnecting;
    c->request_id = valid_request_id(c->req.request_id) ? c->req.request_id : uuid();
    c->fwd = c->req.forwarded_for.empty() ? c->ip : c->req.forwarded_for + ", " + c->ip;
    c->reused = c->retried = c->got_byte = c->head_sent = c->up_reusable = false;
    c->close_after = !c->req.keep_alive;
    c->connect_ms = -1;
    c->t_dispatch = -1;
    c->bytes = 0;
    c->rbuf.clear();
    c->res.clear();
    c->chunks = ChunkScanner();
    build_upstream_request(c);
    Up *u = take_idle(c->b.get());
    if (u) {
      c->connect_ms = 0;
      attach(c, u);
    } else {
      connect_new(c);
    }
  }

  void build_upstream_request(Client *c) {
    const Request &r = c->req;
    std::string &s = c->up_req;
    s.clear();
    s.reserve(r.kept.size() + 256 + (size_t)r.length);
    s += r.method;
    s += ' ';
    s += r.target;
    s += " HTTP/1.1\r\n";
    s += r.kept;
    if (r.had_length) s += "Content-Length: " + std::to_string(r.length) + "\r\n";
    s += "X-Request-Id: " + c->request_id + "\r\nX-Forwarded-For: " + c->fwd + (c->ssl ? "\r\nX-Forwarded-Proto: https" : "\r\nX-Forwarded-Proto: http") + "\r\nX-Forwarded-Port: " +
         std::to_string(c->port) + "\r\nX-Request-Start: " + std::to_string(wall_ms()) + "\r\nVia: ";
    s += r.via.empty() ? kVia : r.via + ", " + kVia;
    s += "\r\n\r\n";
    s.append(c->in, r.head_len, (size_t)r.length);
  }

  std::string uuid() {
    uint64_t a = rng_.next(), b = rng_.next();
    unsigned char x[16];
    memcpy(x, &a, 8);
    memcpy(x + 8, &b, 8);
    x[6] = (x[6] & 0x0f) | 0x40;
    x[8] = (x[8] & 0x3f) | 0x80;
    static const char hexd[] = "0123456789abcdef";
    std::string s;
    s.reserve(36);
    for (int i = 0; i < 16; i++) {
      if (i == 4 || i == 6 || i == 8 || i == 10) s += '-';
      s += hexd[x[i] >> 4];
      s += hexd[x[i] & 15];
    }
    return s;
  }

  Up *take_idle(Backend *b) {
    auto it = pool_.find(b);
    if (it == pool_.end() || it->second.empty()) return nullptr;
    Up *u = it->second.back();  // LIFO: the warmest connection
    it->second.pop_back();
    u->in_pool = false;
    return u;
  }

  void connect_new(Client *c) {
    c->phase = Phase::kConnecting;
    c->t_connect0 = now_;
    c->deadline = now_ + plane_->opts.connect_ms;
    const PlaneBackend &spec = c->b->spec;
    int fd;
    if (spec.pidfd >= 0) {
      StepError err;
      fd = netns_socket(spec.pidfd, NetnsSocketKind::kTcpClient, err);
      if (fd < 0) errno = err.err;
    } else {
      fd = socket(spec.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    }
    if (fd < 0) {
      // dynod's own shortage is not the dyno's fault: no quarantine, JavaScript tries
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) return local_failure(c);
      return connect_failed(c, "H21");
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    auto *u = new Up();
    u->fd = fd;
    u->b = c->b;
    u->since = now_;
    ups_.push_back(u);
    int rc = connect(fd, reinterpret_cast<const sockaddr *>(&spec.addr), spec.addr_len);
    if (rc != 0 && errno != EINPROGRESS) {
      kill_up(u);
      return connect_failed(c, "H21");
    }
    u->connecting = rc != 0;
    u->user = c;
    c->up = u;
    if (!add(u, EPOLLIN | EPOLLOUT | EPOLLRDHUP)) {
      c->up = nullptr;
      kill_up(u);
      return connect_failed(c, "H21");
    }
    if (!u->connecting) connected(c, u);
  }

  void local_failure(Client *c) {
    release(c);
    c->phase = Phase::kIdle;
    handoff_soon(c);
  }

  // No answer came from a dyno and none can come from this one now: it is quarantined,
  // and the request goes to JavaScript, which tries the others, as exchange.ts does
  // after a failed connect (also when this was the replay of a stale connection's).
  void connect_failed(Client *c, const char *code) {
    c->b->quarantine(now_ + plane_->opts.quarantine_ms, strcmp(code, "H19") == 0 ? 19 : 21);
    c->tried_id = c->b->spec.id;
    release(c);
    c->phase = Phase::kIdle;
    handoff_soon(c);
  }

  void connected(Client *c, Up *u) {
    u->connecting = false;
    c->connect_ms = std::max(c->connect_ms, 0.0) + now_ - c->t_connect0;
    attach(c, u);
  }

  void attach(Client *c, Up *u) {
    c->phase = Phase::kSent;
    c->up = u;
    u->user = c;
    c->reused = u->uses > 0;
    u->uses++;
    if (c->t_dispatch < 0) c->t_dispatch = now_;
    u->out.assign(c->up_req);
    u->out_off = 0;
    c->deadline = now_ + plane_->opts.first_byte_ms;
    flush_up(u);
  }

  void flush_up(Up *u) {
    while (u->out_off < u->out.size()) {
      ssize_t n = write(u->fd, u->out.data() + u->out_off, u->out.size() - u->out_off);
      if (n > 0) {
        u->out_off += n;
        if (u->user) u->user->last = now_;
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) {
        mod(u, u->events | EPOLLOUT);
        return;
      }
      return;  // the read side sees the close
    }
    u->out.clear();
    u->out_off = 0;
    if (u->user) u->user->deadline = now_ + plane_->opts.first_byte_ms;  // H12 counts from the whole request sent
    mod(u, (u->events & ~EPOLLOUT) | kReading);
  }

  void on_up(Up *u, uint32_t e) {
    if (u->fd < 0) return;
    Client *c = u->user;
    if (u->connecting) {
      if (!(e & (EPOLLOUT | EPOLLERR | EPOLLHUP))) return;
      int so = 0;
      socklen_t len = sizeof so;
      getsockopt(u->fd, SOL_SOCKET, SO_ERROR, &so, &len);
      if (so != 0 || (e & EPOLLERR)) {
        c->up = nullptr;
        u->user = nullptr;
        kill_up(u);
        c->connect_ms = std::max(c->connect_ms, 0.0) + now_ - c->t_connect0;
        return connect_failed(c, so == ETIMEDOUT ? "H19" : "H21");
      }
      connected(c, u);
      return;
    }
    if (e & EPOLLOUT) flush_up(u);
    if (!(e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))) return;
    if (!c) {  // idle in the pool: the dyno closed it, or said something unasked
      remove_from_pool(u);
      kill_up(u);
      return;
    }
    char buf[kReadChunk];
    for (;;) {
      if (c->dead || u->fd < 0 || c->up != u) return;
      // a slow client: the dyno waits (unless it is gone: what is left is read now)
      if (c->phase == Phase::kRelaying && c->out.size() - c->out_off > kClientOutHigh && !(e & (EPOLLHUP | EPOLLERR))) {
        mod(u, u->events & ~kReading);
        return;
      }
      ssize_t n = read(u->fd, buf, sizeof buf);
      if (n > 0) {
        from_dyno(c, buf, (size_t)n);
        if ((size_t)n < sizeof buf) return;
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) return;
      dyno_gone(c, n < 0 && (errno == ECONNRESET || errno == EPIPE));
      return;
    }
  }

  void from_dyno(Client *c, const char *p, size_t n) {
    c->got_byte = true;
    c->last = now_;
    if (c->phase == Phase::kRelaying) return relay(c, p, n);
    // the whole head in this read (the common case): parsed where it lies
    if (c->rbuf.empty()) {
      size_t blank = head_end(p, n);
      if (blank != std::string::npos) {
        Response &r = c->res;
        r.clear();
        std::string bad = parse_response(p, blank + 2, r);
        if (!bad.empty() || r.status < 200 || blank + 2 > kResponseHeadMax) {
          c->rbuf.assign(p, n);  // the general path below
        } else {
          const char *rest = p + r.head_len;
          std::string head = respond(c);
          // also with nothing after the head: a response without body, or of length 0, ends here
          relay(c, rest, n - r.head_len, &head);
          return;
        }
      } else {
        c->rbuf.assign(p, n);
      }
    } else {
      c->rbuf.append(p, n);
    }
    for (;;) {
      size_t blank = head_end(c->rbuf.data(), c->rbuf.size());
      if (blank == std::string::npos) {
        if (c->rbuf.size() > kResponseHeadMax) fail(c, "H17", 0, "response head too large");
        else if (bare_lf(c->rbuf.data(), c->rbuf.size())) fail(c, "H17", 0, "bare LF");
        return;
      }
      if (blank + 2 > kResponseHeadMax) return fail(c, "H17", 0, "response head too large");
      Response &r = c->res;
      r.clear();
      std::string bad = parse_response(c->rbuf.data(), blank + 2, r);
      if (!bad.empty()) return fail(c, "H17", 0, bad);
      if (r.status == 101) return fail(c, "H17", 0, "101 to a request without Upgrade");
      if (r.status >= 200) {
        std::string rest = c->rbuf.substr(r.head_len);
        c->rbuf.clear();
        std::string head = respond(c);
        // also with nothing after the head: a response without body, or of length 0, ends here
        relay(c, rest.data(), rest.size(), &head);
        return;
      }
      // 1xx other than 101 passed on to the (HTTP/1.1) client, the final answer follows;
      // an unasked 100 Continue too: a proxy passes on every 1xx it did not ask for
      // (RFC 9110 §15.2; vegur: "older HTTP 1.1 servers may send these")
      {
        std::string head = "HTTP/1.1 " + r.status_text + "\r\n" + r.kept + "\r\n";
        send_client(c, head.data(), head.size());
      }
      c->rbuf.erase(0, r.head_len);
      if (c->rbuf.empty()) return;
    }
  }

  // the client's head of the response; relay() sends it with the first body bytes
  std::string respond(Client *c) {
    c->kind = response_body(c->res, c->req.method);
    c->up_reusable = c->res.keep_alive && c->kind != ResBody::kClose;
    if (c->kind == ResBody::kClose) c->close_after = true;
    if (c->kind == ResBody::kLength) c->left = c->res.length;
    std::string h;
    h.reserve(c->res.kept.size() + 128);
    h += "HTTP/1.1 ";
    h += c->res.status_text;
    h += "\r\n";
    h += c->res.kept;
    if (!c->res.transfer_encoding.empty()) h += "Transfer-Encoding: " + c->res.transfer_encoding + "\r\n";
    else if (c->res.length >= 0) h += "Content-Length: " + std::to_string(c->res.length) + "\r\n";
    h += "Via: ";
    h += c->res.via.empty() ? kVia : c->res.via + ", " + kVia;
    h += "\r\n";
    if (c->close_after) h += "Connection: close\r\n";
    h += "\r\n";
    c->phase = Phase::kRelaying;
    c->head_sent = true;
    c->bytes += h.size();
    return h;
  }

  void relay(Client *c, const char *p, size_t n, const std::string *head = nullptr) {
    size_t end = n;
    bool complete = false;
    switch (c->kind) {
      case ResBody::kNone:
        end = 0;
        complete = true;
        break;
      case ResBody::kLength:
        end = (size_t)std::min<int64_t>(c->left, (int64_t)n);
        c->left -= end;
        complete = c->left == 0;
        break;
      case ResBody::kChunked: {
        ssize_t e = c->chunks.scan(p, n);
        if (e < 0) {
          // the head came in this read and went nowhere yet: the client gets the error page
          if (head) {
            c->head_sent = false;
            c->bytes -= head->size();
          }
          return fail(c, "H17", 0, "bad chunked response body");
        }
        end = (size_t)e;
        complete = c->chunks.done();
        break;
      }
      case ResBody::kClose:
        break;
    }
    if (end < n) c->up_reusable = false;  // bytes past the response: not to be trusted again
    c->bytes += end;
    if (head) send_client(c, head->data(), head->size(), p, end);
    else send_client(c, p, end);
    if (complete) finish(c);
  }

  // reset: the dyno's end was closed when our bytes came, so it read none of them
  void dyno_gone(Client *c, bool reset) {
    Up *u = c->up;
    const bool cut = u && u->out_off < u->out.size();  // the request was not all written
    if (c->phase == Phase::kRelaying && c->kind == ResBody::kClose) {
      c->up_reusable = false;
      return finish(c);
    }
    c->up = nullptr;
    if (u) {
      u->user = nullptr;
      kill_up(u);
    }
    if (!c->got_byte) {
      // the keep-alive race: a reused connection closed before any answer goes again, once,
      // fresh; to JavaScript (another dyno) when this one is no longer listed (being stopped).
      // Only if sending it twice is safe (RFC 9112 §9.3.1): exchange.ts's retryable.
      if (c->reused && !c->retried && (reset || idempotent(c->req.method))) {
        c->retried = true;
        if (listed(c->b.get())) return connect_new(c);
        release(c);
        c->phase = Phase::kIdle;
        return handoff_soon(c);
      }
      return fail(c, cut ? "H18" : "H13", 0);
    }
    fail(c, "H18", 0);
  }

  void finish(Client *c) {
    line(c, nullptr, c->res.status);
    Up *u = c->up;
    c->up = nullptr;
    if (u) {
      u->user = nullptr;
      if (c->up_reusable) to_pool(u);
      else kill_up(u);
    }
    release(c);
    end_exchange(c);
  }

  // The exchange is over (answered): the next request, or the end of the connection.
  void end_exchange(Client *c) {
    c->in.erase(0, c->req.head_len + (size_t)c->req.length);
    c->phase = Phase::kIdle;
    if (c->close_after) {
      c->close_after_flush = true;
      if (c->out_off >= c->out.size()) linger(c);
      return;
    }
    if (c->eof && c->in.empty() && c->out_off >= c->out.size()) return kill_client(c);
    if (!c->eof) resume_read(c);
    next(c);
  }

  void release(Client *c) {
    if (c->b) {
      __atomic_fetch_sub(c->b->in_flight(), 1, __ATOMIC_ACQ_REL);
      // a request of JavaScript's waits for room: it may take this slot
      if (__atomic_load_n(plane_->wait_flag.get(), __ATOMIC_RELAXED) != 0) {
        PlaneEvent ev;
        ev.kind = PlaneEvent::kPump;
        batch_.push_back(std::move(ev));
        post_now_ = true;
      }
    }
    c->b.reset();
  }

  // exchange.ts's fail(): the line, then the error page while nothing of an answer went out
  void fail(Client *c, const char *code, int status, const std::string &cause = "") {
    int st = status > 0 ? status : plane_->opts.codes.at(code).status;
    line(c, code, st, cause);
    Up *u = c->up;
    c->up = nullptr;
    if (u) {
      u->user = nullptr;
      kill_up(u);
    }
    release(c);
    if (!strcmp(code, "H27") || c->head_sent || c->eof) {
      kill_client(c);
      return;
    }
    bool keep = !c->close_after;
    const std::string key = std::string(code) + (keep ? " 1 " : " 0 ") + (c->req.method == "HEAD" ? "1" : "0");
    auto it = plane_->opts.pages.find(key);
    if (it == plane_->opts.pages.end()) {
      kill_client(c);
      return;
    }
    c->close_after = !keep;
    send_client(c, it->second.data(), it->second.size());
    end_exchange(c);
  }

  // log-line.ts's routerLine, the code's part from JavaScript (PlaneOptions::codes)
  void line(Client *c, const char *code, int status, const std::string &cause = "") {
    auto it = plane_->opts.codes.find(code ? code : "");
    static const PlaneCode info{"at=info", "", 0};
    const PlaneCode &ci = it == plane_->opts.codes.end() ? info : it->second;
    bool reached = c->t_dispatch >= 0;
    PlaneEvent ev;
    ev.kind = PlaneEvent::kLine;
    std::string &s = ev.bytes;
    s.reserve(256 + c->req.target.size());
    s += ci.start;
    if (!cause.empty()) {
      s += " cause=\"";
      append_quoted(s, cause);
      s += '"';
    }
    s += " method=";
    s += c->req.method;
    s += " path=\"";
    append_quoted(s, c->req.target);
    s += "\" host=";
    s += c->req.host;
    s += " request_id=";
    s += c->request_id;
    s += " fwd=\"";
    append_quoted(s, c->fwd);
    s += "\" dyno=";
    if (c->b) s += c->b->spec.name;  // the dyno picked, as exchange.ts names it
    s += " connect=";
    append_ms(s, c->connect_ms);
    s += " service=";
    append_ms(s, reached ? now_ - c->t_dispatch : -1);
    s += " status=";
    s += std::to_string(status);
    s += " bytes=";
    if (reached) s += std::to_string((int64_t)c->bytes);
    s += c->ssl ? " protocol=https" : " protocol=http";
    s += ci.end;
    batch_.push_back(std::move(ev));
  }

  // a quote inside a quoted value would end it early: percent-encoded
  static void append_quoted(std::string &s, const std::string &v) {
    for (char ch : v) {
      if (ch == '"') s += "%22";
      else s += ch;
    }
  }

  // Math.round of a non-negative ms value, then "ms"; nothing for -1
  static void append_ms(std::string &s, double v) {
    if (v < 0) return;
    s += std::to_string((int64_t)(v + 0.5));
    s += "ms";
  }

  // ---------------------------------------------------------------- the pool
  bool listed(const Backend *b) const {
    for (auto &x : backends_)
      if (x.get() == b) return true;
    return false;
  }

  void to_pool(Up *u) {
    auto &idle = pool_[u->b.get()];
    // a dyno no longer listed gets no request: its connection goes; the pool holds at most a slot's worth
    if (!listed(u->b.get()) || idle.size() >= (size_t)plane_->opts.max_in_flight) {
      kill_up(u);
      return;
    }
    u->in_pool = true;
    u->since = now_;
    mod(u, kReading);
    idle.push_back(u);
  }

  void remove_from_pool(Up *u) {
    if (!u->in_pool) return;
    auto &v = pool_[u->b.get()];
    for (size_t i = 0; i < v.size(); i++)
      if (v[i] == u) {
        v.erase(v.begin() + i);
        break;
      }
    u->in_pool = false;
  }

  // ---------------------------------------------------------------- timers
  void sweep() {
    for (auto &l : listens_) {
      if (l.resting_until > 0 && now_ >= l.resting_until) {
        l.resting_until = 0;
        add(&l, EPOLLIN);
      }
    }
    for (Client *c : clients_) {
      if (c->dead) continue;
      if (c->pair) {
        // JavaScript keeps the time of a connection it has; once it ended, the client gets
        // kLingerMs to close, or the idle timeout to take what is left for it
        if ((c->shut && now_ - c->last >= kLingerMs) || (c->pair->eof && now_ - c->last >= plane_->opts.idle_ms)) kill_client(c);
        continue;
      }
      switch (c->phase) {
        case Phase::kConnecting:
          if (now_ >= c->deadline && c->up) {
            Up *u = c->up;
            c->up = nullptr;
            u->user = nullptr;
            kill_up(u);
            c->connect_ms = std::max(c->connect_ms, 0.0) + now_ - c->t_connect0;
            connect_failed(c, "H19");
          }
          break;
        case Phase::kSent:
          if (!c->got_byte && c->up && c->up->out.empty() && now_ >= c->deadline) fail(c, "H12", 0);
          // no byte either way for the idle timeout, the answer begun or the request still going out (a dyno not reading)
          else if ((c->got_byte || (c->up && !c->up->out.empty())) && now_ - c->last >= plane_->opts.idle_ms) fail(c, "H15", 0);
          break;
        case Phase::kRelaying:
          if (now_ - c->last >= plane_->opts.idle_ms) fail(c, "H15", 0);
          break;
        case Phase::kIdle:
          // vegur's idle client: 60 s without a byte either way, whatever half a request it sent
          if (c->lingering ? now_ - c->last >= kLingerMs : now_ - c->last >= plane_->opts.client_idle_ms) kill_client(c);
          break;
      }
    }
    for (auto &kv : pool_) {
      auto &v = kv.second;
      for (size_t i = 0; i < v.size();) {
        if (now_ - v[i]->since >= plane_->opts.pool_idle_ms) {
          Up *u = v[i];
          v.erase(v.begin() + i);
          u->in_pool = false;
          kill_up(u);
        } else {
          i++;
        }
      }
    }
  }

  // ---------------------------------------------------------------- ends
  void kill_client(Client *c) {
    if (c->dead) return;
    c->dead = true;
    if (c->up) {
      c->up->user = nullptr;
      kill_up(c->up);
      c->up = nullptr;
    }
    if (c->phase != Phase::kIdle) release(c);
    if (c->pair) {
      close(c->pair->fd);  // JavaScript sees its socket end
      c->pair->fd = -1;
      c->pair->c = nullptr;
      c->pair = nullptr;
    }
    if (c->ssl) {
      SSL_free(c->ssl);
      c->ssl = nullptr;
    }
    if (c->fd >= 0) close(c->fd);  // also leaves the epoll set
    c->fd = -1;
  }

  void kill_up(Up *u) {
    if (u->fd < 0) return;
    if (u->in_pool) remove_from_pool(u);
    close(u->fd);
    u->fd = -1;
    u->b.reset();
  }

  // frees what died this round (handles may be in this round's event list until then)
  void reap() {
    if (!pending_reads_.empty())
      pending_reads_.erase(std::remove_if(pending_reads_.begin(), pending_reads_.end(), [](Client *c) { return c->dead; }), pending_reads_.end());
    delete_if(clients_, [](Client *c) { return c->dead; });
    delete_if(ups_, [](Up *u) { return u->fd < 0; });
    delete_if(pairs_, [](Pair *p) { return p->fd < 0; });
  }

  // deletes and drops the handles gone (order does not matter)
  template <typename T, typename Gone>
  static void delete_if(std::vector<T *> &v, Gone gone) {
    for (size_t i = 0; i < v.size();) {
      if (gone(v[i])) {
        delete v[i];
        v[i] = v.back();
        v.pop_back();
      } else {
        i++;
      }
    }
  }

  Plane *plane_;
  size_t index_;
  int ep_ = -1;
  Handle wake_{Tag::kWake};
  std::vector<Listener> listens_;
  std::vector<Client *> clients_;
  std::vector<Up *> ups_;
  std::vector<Pair *> pairs_;
  std::vector<Client *> pending_reads_;  // TLS clients with bytes already read (resume_read)
  std::unordered_map<Backend *, std::vector<Up *>> pool_;
  std::vector<BackendPtr> backends_;
  uint64_t seen_version_ = 0;
  std::vector<PlaneEvent> batch_;
  bool post_now_ = false;
  double last_post_ = 0;
  double now_ = mono_ms();
  Rng rng_;
  std::mutex stats_mu_;
  int n_clients_ = 0;
  std::unordered_map<uint64_t, int> idle_by_id_;

};

// An exception nothing caught ends the process: say where, for the report.
[[noreturn]] void on_terminate() {
  void *frames[64];
  int n = backtrace(frames, 64);
  const char msg[] = "dynod: terminate called; backtrace:\n";
  ssize_t rc = write(2, msg, sizeof msg - 1);
  (void)rc;
  backtrace_symbols_fd(frames, n, 2);
  abort();
}

Plane *plane_start(const PlaneOptions &opts, int notify_fd, StepError &err) {
  static bool once = (std::set_terminate(on_terminate), true);
  (void)once;
  auto *p = new Plane();
  p->opts = opts;
  p->notify_fd = notify_fd;
  bool any_tls = false;
  for (char t : opts.listen_tls) any_tls = any_tls || t;
  if (any_tls) {
    std::string why;
    p->tls = tls_context(opts.tls_cert, opts.tls_key, opts.tls_ciphers, why);
    if (!p->tls) {
      p->opts.listen_fds.clear();  // still the caller's
      delete p;
      fail_step(err, "router plane", "SSL_CTX_new", "TLS certificate or key: " + why, EINVAL);
      return nullptr;
    }
  }
  int n = std::max(1, std::min(opts.threads, 64));
  p->opts.threads = n;
  for (int i = 0; i < n; i++) {
    auto loop = std::make_unique<Loop>(p, (size_t)i);
    if (!loop->init(err)) {
      p->opts.listen_fds.clear();  // still the caller's
      delete p;
      return nullptr;
    }
    p->loops.push_back(std::move(loop));
  }
  for (auto &l : p->loops) p->threads.emplace_back([lp = l.get()] { lp->run(); });
  return p;
}

std::vector<PlaneCounter> plane_set_backends(Plane *p, std::vector<PlaneBackend> list) {
  std::vector<BackendPtr> next;
  std::vector<PlaneCounter> counters;
  bool dropped = false;  // a dyno listed before is not now
  {
    std::lock_guard<std::mutex> g(p->mu);
    // a dyno listed again keeps its counters and connections
    for (auto &spec : list) {
      BackendPtr found;
      for (auto &b : p->backends)
        if (b->spec.id == spec.id) found = b;
      if (found) {
        if (spec.pidfd >= 0) close(spec.pidfd);
        next.push_back(found);
      } else {
        auto b = std::make_shared<Backend>();
        b->spec = spec;
        next.push_back(std::move(b));
      }
    }
    for (auto &b : next) counters.push_back({b->shared, b});
    for (auto &b : p->backends) {
      bool kept = false;
      for (auto &n : next) kept = kept || n == b;
      dropped = dropped || !kept;
    }
    p->backends = std::move(next);
    p->version.fetch_add(1, std::memory_order_release);
  }
  for (auto &l : p->loops) l->wake();
  // With a dyno dropped, returns once every loop picks from the new list: that dyno
  // (about to get SIGTERM) gets no request after this, and the requests in flight counted
  // are all it got. A loop takes it at its next round (microseconds, or a scheduler's
  // slice on busy cores); the bound is for a stuck one. New dynos need no wait.
  if (dropped) {
    std::unique_lock<std::mutex> g(p->mu);
    const uint64_t v = p->version.load();
    p->taken.wait_for(g, std::chrono::milliseconds(500), [&] {
      for (auto &l : p->loops)
        if (l->seen_version() < v) return false;
      return true;
    });
  }
  return counters;
}

PlaneCounter plane_wait_flag(Plane *p) { return {p->wait_flag.get(), p->wait_flag}; }

void plane_drain(Plane *p, std::vector<PlaneEvent> &out) {
  std::lock_guard<std::mutex> g(p->mu);
  out.swap(p->events);
  p->events.clear();
}

PlaneStats plane_stats(Plane *p) {
  PlaneStats s;
  s.requests = p->requests.load();
  std::unordered_map<uint64_t, int> idle;
  for (auto &l : p->loops) l->stats(s, idle);
  std::lock_guard<std::mutex> g(p->mu);
  for (auto &b : p->backends) s.backends.push_back({b->spec.id, idle[b->spec.id]});
  return s;
}

void plane_stop(Plane *p, std::vector<std::string> &lines) {
  p->stopping.store(true);
  for (auto &l : p->loops) l->wake();
  for (auto &t : p->threads) t.join();
  p->loops.clear();  // closes every connection
  for (int fd : p->opts.listen_fds) close(fd);
  {
    std::lock_guard<std::mutex> g(p->mu);
    for (auto &e : p->events) {
      if (e.kind == PlaneEvent::kLine) lines.push_back(std::move(e.bytes));
      // handed-over fds JavaScript has not taken yet
      else if (e.kind == PlaneEvent::kHandoff && e.fd >= 0) close(e.fd);
    }
    p->events.clear();
    p->backends.clear();
  }
  delete p;
}

std::string plane_tls_check(const std::string &cert, const std::string &key, const std::string &ciphers) {
  std::string why;
  SSL_CTX *ctx = tls_context(cert, key, ciphers, why);
  if (ctx) SSL_CTX_free(ctx);
  return why;
}

bool plane_listen(const std::string &host, int port, int n, const std::string &proto, std::vector<int> &fds, int *bound, StepError &err) {
  const std::string where = "router: listen on " + host + ":" + std::to_string(port) + " (" + proto + ")";
  sockaddr_storage sa{};
  socklen_t len;
  auto *a4 = reinterpret_cast<sockaddr_in *>(&sa);
  auto *a6 = reinterpret_cast<sockaddr_in6 *>(&sa);
  if (inet_pton(AF_INET, host.c_str(), &a4->sin_addr) == 1) {
    a4->sin_family = AF_INET;
    len = sizeof *a4;
  } else if (inet_pton(AF_INET6, host.c_str(), &a6->sin6_addr) == 1) {
    a6->sin6_family = AF_INET6;
    len = sizeof *a6;
  } else {
    return fail_step(err, where.c_str(), "inet_pton", host, EINVAL);
  }
  auto undo = [&fds]() {
    for (int fd : fds) close(fd);
    fds.clear();
  };
  // SO_REUSEPORT lets any socket of the same user join a group: another dynod (root too)
  // would then share this port's connections. A socket without it cannot bind a port
  // someone listens on, so one is bound first and let go; only a second dynod binding in
  // the same instant could still join.
  if (port != 0) {
    if (sa.ss_family == AF_INET) a4->sin_port = htons((uint16_t)port);
    else a6->sin6_port = htons((uint16_t)port);
    int probe = socket(sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (probe < 0) return fail_step(err, where.c_str(), "socket");
    int one = 1;
    setsockopt(probe, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);  // a TIME_WAIT on the port is no owner
    int r = bind(probe, reinterpret_cast<sockaddr *>(&sa), len), e = errno;
    close(probe);
    if (r != 0) return fail_step(err, where.c_str(), "bind", "", e);
  }
  for (int i = 0; i < n; i++) {
    // the first binds the port asked for (0: any); the others join its group
    uint16_t p = htons((uint16_t)(i == 0 ? port : *bound));
    if (sa.ss_family == AF_INET) a4->sin_port = p;
    else a6->sin6_port = p;
    int fd = socket(sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      undo();
      return fail_step(err, where.c_str(), "socket");
    }
    fds.push_back(fd);
    int one = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
      int e = errno;
      undo();
      return fail_step(err, where.c_str(), "setsockopt", "", e);
    }
    if (bind(fd, reinterpret_cast<sockaddr *>(&sa), len) != 0 || listen(fd, 511) != 0) {
      int e = errno;
      undo();
      return fail_step(err, where.c_str(), "bind", "", e);
    }
    if (i == 0) {
      sockaddr_storage got{};
      socklen_t glen = sizeof got;
      getsockname(fd, reinterpret_cast<sockaddr *>(&got), &glen);
      *bound = ntohs(got.ss_family == AF_INET ? reinterpret_cast<sockaddr_in *>(&got)->sin_port : reinterpret_cast<sockaddr_in6 *>(&got)->sin6_port);
    }
  }
  return true;
}

}  // namespace dynod
