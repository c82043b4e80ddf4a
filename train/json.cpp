#include "train/json.h"

#include <cstdio>
#include <cstdlib>

#include "runtime/error.h"

namespace renorm {

const Json* Json::find(const std::string& key) const {
  for (const auto& [k, v] : object)
    if (k == key) return &v;
  return nullptr;
}

namespace {
struct Parser {
  const std::string& s;
  const std::string& source;
  size_t i = 0;
  [[noreturn]] void fail(const std::string& what) {
    throw IoError(source + ": malformed JSON at byte " + std::to_string(i) + ": " + what);
  }
  void ws() {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\n' || s[i] == '\r' || s[i] == '\t')) ++i;
  }
  bool eat(char c) {
    ws();
    if (i < s.size() && s[i] == c) {
      ++i;
      return true;
    }
    return false;
  }
  std::string str() {
    if (!eat('"')) fail("expected a string");
    std::string out;
    while (i < s.size() && s[i] != '"') {
      char c = s[i++];
      if (c == '\\') {
        if (i >= s.size()) fail("unterminated escape");
        const char e = s[i++];
        switch (e) {
          case 'n': c = '\n'; break;
          case 't': c = '\t'; break;
          case 'r': c = '\r'; break;
          case 'b': c = '\b'; break;
          case 'f': c = '\f'; break;
          case 'u': {
            if (i + 4 > s.size()) fail("short \\u escape");
            c = static_cast<char>(std::strtol(s.substr(i, 4).c_str(), nullptr, 16));  // ASCII only
            i += 4;
            break;
          }
          default: c = e;
        }
      }
      out += c;
    }
    if (i >= s.size()) fail("unterminated string");
    ++i;
    return out;
  }
  Json value() {
    ws();
    if (i >= s.size()) fail("unexpected end");
    Json j;
    const char c = s[i];
    if (c == '{') {
      ++i;
      j.kind = Json::Kind::Object;
      if (eat('}')) return j;
      do {
        std::string k = str();
        if (!eat(':')) fail("expected ':'");
        j.object.emplace_back(std::move(k), value());
      } while (eat(','));
      if (!eat('}')) fail("expected '}'");
    } else if (c == '[') {
      ++i;
      j.kind = Json::Kind::Array;
      if (eat(']')) return j;
      do j.array.push_back(value());
      while (eat(','));
      if (!eat(']')) fail("expected ']'");
    } else if (c == '"') {
      j.kind = Json::Kind::String;
      j.string = str();
    } else if (s.compare(i, 4, "true") == 0 || s.compare(i, 5, "false") == 0) {
      j.kind = Json::Kind::Bool;
      j.boolean = s[i] == 't';
      i += j.boolean ? 4 : 5;
    } else if (s.compare(i, 4, "null") == 0) {
      i += 4;
    } else {
      char* end = nullptr;
      j.kind = Json::Kind::Number;
      j.number = std::strtod(s.c_str() + i, &end);
      if (end == s.c_str() + i) fail("unexpected character");
      i = end - s.c_str();
    }
    return j;
  }
};
}  // namespace

Json parse_json(const std::string& text, const std::string& source) {
  Parser p{text, source};
  Json j = p.value();
  p.ws();
  if (p.i != text.size()) p.fail("trailing characters");
  return j;
}

std::string json_quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

}  // namespace renorm
