// The plain data of spawn's and enter's requests, as the JSON text JavaScript makes
// of them (src/native.ts). Reading ~900 fields of a spawn plan one N-API call at a
// time cost ~0.35 ms per dyno (a property lookup, a type test and a string copy
// each, and the own-keys list of every object for the unknown-field check); one
// JSON.stringify and this parser cost ~0.08 ms. The field checks stay in addon.cc.
#pragma once
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <string>
#include <utility>
#include <vector>

namespace dynod {

// s == key, for a string literal key: the lengths first (most names differ there).
template <size_t N>
inline bool is(const std::string &s, const char (&key)[N]) {
  return s.size() == N - 1 && memcmp(s.data(), key, N - 1) == 0;
}

struct Json {
  enum Kind { kMissing, kNull, kBool, kNumber, kString, kArray, kObject };
  Kind kind = kMissing;
  bool boolean = false;
  double number = 0;
  std::string string;
  std::vector<Json> items;                           // kArray
  std::vector<std::pair<std::string, Json>> fields;  // kObject, in the text's order

  // The field named key (a string literal), or a value of kind kMissing (as undefined
  // is in JavaScript).
  template <size_t N>
  const Json &get(const char (&key)[N]) const {
    static const Json missing;
    for (const auto &f : fields)
      if (is(f.first, key)) return f.second;
    return missing;
  }
};

// A strict RFC 8259 parser for text that JSON.stringify made. Returns false, with the
// byte offset of the fault, on anything else.
class JsonParser {
 public:
  JsonParser(const char *text, size_t len) : p_(text), end_(text + len), begin_(text) {}

  bool parse(Json &out) {
    if (!value(out, 0)) return false;
    ws();
    return p_ == end_;
  }
  size_t offset() const { return (size_t)(p_ - begin_); }

 private:
  static constexpr int kMaxDepth = 64;
  const char *p_, *end_, *begin_;

  void ws() {
    while (p_ < end_ && (*p_ == ' ' || *p_ == '\t' || *p_ == '\n' || *p_ == '\r')) p_++;
  }
  bool literal(const char *word) {
    size_t n = strlen(word);
    if ((size_t)(end_ - p_) < n || memcmp(p_, word, n) != 0) return false;
    p_ += n;
    return true;
  }

  bool value(Json &v, int depth) {
    ws();
    if (p_ >= end_ || depth > kMaxDepth) return false;
    switch (*p_) {
      case '{': return object(v, depth);
      case '[': return array(v, depth);
      case '"': v.kind = Json::kString; return string(v.string);
      case 't': v.kind = Json::kBool; v.boolean = true; return literal("true");
      case 'f': v.kind = Json::kBool; v.boolean = false; return literal("false");
      case 'n': v.kind = Json::kNull; return literal("null");
      default: v.kind = Json::kNumber; return number(v.number);
    }
  }

  bool object(Json &v, int depth) {
    v.kind = Json::kObject;
    v.fields.reserve(8);
    p_++;
    ws();
    if (p_ < end_ && *p_ == '}') return ++p_, true;
    for (;;) {
      ws();
      if (p_ >= end_ || *p_ != '"') return false;
      v.fields.emplace_back();
      if (!string(v.fields.back().first)) return false;
      ws();
      if (p_ >= end_ || *p_++ != ':') return false;
      if (!value(v.fields.back().second, depth + 1)) return false;
      ws();
      if (p_ >= end_) return false;
      if (*p_ == '}') return ++p_, true;
      if (*p_++ != ',') return false;
    }
  }

  bool array(Json &v, int depth) {
    v.kind = Json::kArray;
    p_++;
    ws();
    if (p_ < end_ && *p_ == ']') return ++p_, true;
    for (;;) {
      v.items.emplace_back();
      if (!value(v.items.back(), depth + 1)) return false;
      ws();
      if (p_ >= end_) return false;
      if (*p_ == ']') return ++p_, true;
      if (*p_++ != ',') return false;
    }
  }

  // JSON's number grammar, converted by strtod (the C locale: Node never sets another).
  bool number(double &out) {
    const char *s = p_;
    if (p_ < end_ && *p_ == '-') p_++;
    if (p_ >= end_) return false;
    if (*p_ == '0') p_++;
    else if (*p_ >= '1' && *p_ <= '9') while (p_ < end_ && *p_ >= '0' && *p_ <= '9') p_++;
    else return false;
    if (p_ < end_ && *p_ == '.') {
      p_++;
      if (p_ >= end_ || *p_ < '0' || *p_ > '9') return false;
      while (p_ < end_ && *p_ >= '0' && *p_ <= '9') p_++;
    }
    if (p_ < end_ && (*p_ == 'e' || *p_ == 'E')) {
      p_++;
      if (p_ < end_ && (*p_ == '+' || *p_ == '-')) p_++;
      if (p_ >= end_ || *p_ < '0' || *p_ > '9') return false;
      while (p_ < end_ && *p_ >= '0' && *p_ <= '9') p_++;
    }
    std::string digits(s, (size_t)(p_ - s));
    out = strtod(digits.c_str(), nullptr);
    return true;
  }

  static void utf8(std::string &out, uint32_t cp) {
    if (cp < 0x80) out += (char)cp;
    else if (cp < 0x800) out += (char)(0xC0 | (cp >> 6)), out += (char)(0x80 | (cp & 0x3F));
    else if (cp < 0x10000) out += (char)(0xE0 | (cp >> 12)), out += (char)(0x80 | ((cp >> 6) & 0x3F)), out += (char)(0x80 | (cp & 0x3F));
    else out += (char)(0xF0 | (cp >> 18)), out += (char)(0x80 | ((cp >> 12) & 0x3F)), out += (char)(0x80 | ((cp >> 6) & 0x3F)), out += (char)(0x80 | (cp & 0x3F));
  }

  bool hex4(uint32_t &cp) {
    if (end_ - p_ < 4) return false;
    cp = 0;
    for (int i = 0; i < 4; i++) {
      char c = *p_++;
      cp <<= 4;
      if (c >= '0' && c <= '9') cp |= (uint32_t)(c - '0');
      else if (c >= 'a' && c <= 'f') cp |= (uint32_t)(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F') cp |= (uint32_t)(c - 'A' + 10);
      else return false;
    }
    return true;
  }

  // A string, as UTF-8. A lone surrogate (JSON.stringify escapes them) becomes U+FFFD,
  // as N-API's UTF-8 conversion makes it.
  bool string(std::string &out) {
    p_++;
    for (;;) {
      const char *run = p_;
      while (p_ < end_ && *p_ != '"' && *p_ != '\\' && (unsigned char)*p_ >= 0x20) p_++;
      out.append(run, (size_t)(p_ - run));
      if (p_ >= end_ || (unsigned char)*p_ < 0x20) return false;
      if (*p_ == '"') return ++p_, true;
      p_++;  // a backslash
      if (p_ >= end_) return false;
      char e = *p_++;
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          uint32_t cp;
          if (!hex4(cp)) return false;
          if (cp >= 0xD800 && cp <= 0xDBFF && end_ - p_ >= 6 && p_[0] == '\\' && p_[1] == 'u') {
            const char *save = p_;
            p_ += 2;
            uint32_t lo;
            if (!hex4(lo)) return false;
            if (lo >= 0xDC00 && lo <= 0xDFFF) cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            else p_ = save;  // the next escape is read on its own
          }
          utf8(out, cp >= 0xD800 && cp <= 0xDFFF ? 0xFFFD : cp);
          break;
        }
        default: return false;
      }
    }
  }
};

}  // namespace dynod
