#include "config/condition.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <stdexcept>

#include "batch_cleanup/errors.h"
#include "config/duration.h"

namespace batch_cleanup::config {
namespace {

enum class Tok { kEnd, kWord, kString, kNumber, kSymbol };

struct Token {
  Tok type = Tok::kEnd;
  std::string text;          // a word as written, a string's value, a number's digits, a symbol
  std::size_t position = 0;  // 0-based
};

bool word_start(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool word_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '$';
}

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool reserved(const std::string& lowered) {
  static const char* const kWords[] = {"and",  "or",    "not",      "is",   "null",
                                       "in",   "true",  "false",    "now",  "select",
                                       "from", "where", "interval", "like", "exists"};
  return std::any_of(std::begin(kWords), std::end(kWords),
                     [&](const char* w) { return lowered == w; });
}

class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text) { tokenize(); }

  ConditionPtr parse() {
    if (tokens_.front().type == Tok::kEnd) fail(0, "the condition is empty");
    auto node = parse_or();
    if (peek().type != Tok::kEnd) {
      if (peek().type == Tok::kSymbol && peek().text == ")") {
        fail(peek().position, "')' without its '('");
      }
      fail(peek().position, "expected AND, OR or the end of the condition, found " + shown(peek()));
    }
    return node;
  }

 private:
  [[noreturn]] void fail(std::size_t position, const std::string& what) const {
    throw ConfigError("--where '" + std::string(text_) + "': " + what + " at position " +
                      std::to_string(position + 1));
  }

  static std::string shown(const Token& t) {
    switch (t.type) {
      case Tok::kEnd:
        return "the end";
      case Tok::kString:
        return "a string";
      case Tok::kNumber:
        return "'" + t.text + "'";
      case Tok::kWord:
      case Tok::kSymbol:
        break;
    }
    return "'" + t.text + "'";
  }

  void tokenize() {
    std::size_t i = 0;
    while (i < text_.size()) {
      const char c = text_[i];
      if (std::isspace(static_cast<unsigned char>(c))) {
        ++i;
        continue;
      }
      const std::size_t start = i;
      if (c == ';')
        fail(i, "';' is not part of the condition language (one condition, no statements)");
      if (c == '-' && i + 1 < text_.size() && text_[i + 1] == '-')
        fail(i, "comments are not allowed");
      if (c == '/' && i + 1 < text_.size() && text_[i + 1] == '*')
        fail(i, "comments are not allowed");
      if (c == '"' || c == '`') {
        fail(i, "quoted identifiers are not supported: write the column name bare");
      }
      if (word_start(c)) {
        while (i < text_.size() && word_char(text_[i])) ++i;
        tokens_.push_back({Tok::kWord, std::string(text_.substr(start, i - start)), start});
        continue;
      }
      if (std::isdigit(static_cast<unsigned char>(c)) ||
          ((c == '-' || c == '.') && i + 1 < text_.size() &&
           std::isdigit(static_cast<unsigned char>(text_[i + 1])) && number_may_start())) {
        ++i;
        while (i < text_.size() &&
               (std::isdigit(static_cast<unsigned char>(text_[i])) || text_[i] == '.')) {
          ++i;
        }
        if (i < text_.size() && word_char(text_[i])) fail(i, "malformed number");
        tokens_.push_back({Tok::kNumber, std::string(text_.substr(start, i - start)), start});
        continue;
      }
      if (c == '\'') {
        std::string value;
        ++i;
        while (true) {
          if (i >= text_.size()) fail(start, "unterminated string");
          if (text_[i] == '\'') {
            if (i + 1 < text_.size() && text_[i + 1] == '\'') {
              value += '\'';
              i += 2;
              continue;
            }
            ++i;
            break;
          }
          value += text_[i++];
        }
        tokens_.push_back({Tok::kString, std::move(value), start});
        continue;
      }
      static const char* const kSymbols[] = {"<>", "!=", "<=", ">=", "=", "<",
                                             ">",  "(",  ")",  ",",  "+", "-"};
      bool matched = false;
      for (const char* symbol : kSymbols) {
        const std::string_view s(symbol);
        if (text_.substr(i, s.size()) == s) {
          tokens_.push_back({Tok::kSymbol, std::string(s), start});
          i += s.size();
          matched = true;
          break;
        }
      }
      if (!matched) fail(i, std::string("unexpected character '") + c + "'");
    }
    tokens_.push_back({Tok::kEnd, "", text_.size()});
  }

  // A '-' starts a negative number only where a value is expected (after an operator, '(' or
  // ','), not after now().
  bool number_may_start() const {
    if (tokens_.empty()) return true;
    const Token& last = tokens_.back();
    return last.type == Tok::kSymbol && last.text != ")";
  }

  const Token& peek(std::size_t ahead = 0) const {
    return tokens_[std::min(pos_ + ahead, tokens_.size() - 1)];
  }
  const Token& next() {
    const Token& t = peek();
    if (pos_ < tokens_.size() - 1) ++pos_;
    return t;
  }
  bool is_word(const Token& t, const char* word) const {
    return t.type == Tok::kWord && lower(t.text) == word;
  }
  bool is_symbol(const Token& t, const char* symbol) const {
    return t.type == Tok::kSymbol && t.text == symbol;
  }
  void expect_symbol(const char* symbol, const std::string& context) {
    if (!is_symbol(peek(), symbol)) {
      fail(peek().position,
           "expected '" + std::string(symbol) + "' " + context + ", found " + shown(peek()));
    }
    next();
  }

  ConditionPtr combine(ConditionNode::Kind kind, std::vector<ConditionPtr> children) {
    if (children.size() == 1) return children.front();
    auto node = std::make_shared<ConditionNode>();
    node->kind = kind;
    node->children = std::move(children);
    return node;
  }

  ConditionPtr parse_or() {
    std::vector<ConditionPtr> children{parse_and()};
    while (is_word(peek(), "or")) {
      next();
      children.push_back(parse_and());
    }
    return combine(ConditionNode::Kind::kOr, std::move(children));
  }

  ConditionPtr parse_and() {
    std::vector<ConditionPtr> children{parse_not()};
    while (is_word(peek(), "and")) {
      next();
      children.push_back(parse_not());
    }
    return combine(ConditionNode::Kind::kAnd, std::move(children));
  }

  ConditionPtr parse_not() {
    if (is_word(peek(), "not")) {
      next();
      auto node = std::make_shared<ConditionNode>();
      node->kind = ConditionNode::Kind::kNot;
      node->children.push_back(parse_not());
      return node;
    }
    return parse_primary();
  }

  ConditionPtr parse_primary() {
    if (is_symbol(peek(), "(")) {
      const std::size_t open = peek().position;
      next();
      if (is_word(peek(), "select")) fail(peek().position, "subqueries are not supported");
      auto node = parse_or();
      if (!is_symbol(peek(), ")")) {
        if (peek().type == Tok::kEnd) fail(open, "'(' is never closed");
        fail(peek().position, "expected ')' or AND/OR, found " + shown(peek()));
      }
      next();
      return node;
    }
    const Token& t = peek();
    if (t.type != Tok::kWord) {
      fail(t.position, "expected a column of the pending table, found " + shown(t) +
                           " (a condition starts with the column: column = value)");
    }
    const std::string lowered = lower(t.text);
    if (lowered == "select" || lowered == "exists") {
      fail(t.position, "subqueries are not supported");
    }
    if (is_symbol(peek(1), "(")) {
      if (lowered == "now") {
        fail(t.position, "now() goes on the right: write the column first (column < now())");
      }
      fail(t.position, "function '" + t.text + "' is not supported (only now(), on the right)");
    }
    if (lowered == "true" || lowered == "false" || lowered == "null") {
      fail(t.position, "expected a column of the pending table, found " + shown(t) +
                           " (a condition starts with the column: column = value)");
    }
    if (reserved(lowered)) fail(t.position, "expected a column, found keyword " + shown(t));
    if (t.text.size() > 63) fail(t.position, "column name longer than 63 characters");
    auto node = std::make_shared<ConditionNode>();
    node->column = t.text;
    next();
    parse_test(*node);
    return node;
  }

  void parse_test(ConditionNode& node) {
    const Token& t = peek();
    if (is_word(t, "is")) {
      next();
      node.kind = ConditionNode::Kind::kIsNull;
      if (is_word(peek(), "not")) {
        next();
        node.negated = true;
      }
      if (!is_word(peek(), "null")) {
        fail(peek().position, "expected NULL after IS" + std::string(node.negated ? " NOT" : "") +
                                  ", found " + shown(peek()));
      }
      next();
      return;
    }
    if (is_word(t, "not") || is_word(t, "in")) {
      if (is_word(t, "not")) {
        next();
        node.negated = true;
        if (!is_word(peek(), "in")) {
          fail(peek().position, "expected IN after NOT, found " + shown(peek()));
        }
      }
      next();
      node.kind = ConditionNode::Kind::kIn;
      expect_symbol("(", "after IN");
      if (is_word(peek(), "select")) fail(peek().position, "subqueries are not supported");
      while (true) {
        node.list.push_back(parse_literal("in the IN list"));
        if (is_symbol(peek(), ",")) {
          next();
          continue;
        }
        expect_symbol(")", "closing the IN list");
        return;
      }
    }
    static const std::pair<const char*, ConditionOp> kOps[] = {
        {"=", ConditionOp::kEq}, {"<>", ConditionOp::kNe}, {"!=", ConditionOp::kNe},
        {"<", ConditionOp::kLt}, {"<=", ConditionOp::kLe}, {">", ConditionOp::kGt},
        {">=", ConditionOp::kGe}};
    for (const auto& [symbol, op] : kOps) {
      if (is_symbol(t, symbol)) {
        next();
        node.kind = ConditionNode::Kind::kCompare;
        node.op = op;
        if (is_word(peek(), "now")) {
          node.value = parse_now();
        } else {
          node.value = parse_literal("after " + std::string(symbol));
        }
        return;
      }
    }
    if (is_word(t, "like") || is_word(t, "between")) {
      fail(t.position, lower(t.text) + " is not supported");
    }
    fail(t.position, "expected an operator (= <> != < <= > >=), IS [NOT] NULL or [NOT] IN after '" +
                         node.column + "', found " + shown(t));
  }

  ConditionNow parse_now() {
    const Token& now = next();
    if (!is_symbol(peek(), "(")) fail(peek().position, "expected '()' after now");
    next();
    expect_symbol(")", "after now(");
    ConditionNow out;
    if (!is_symbol(peek(), "+") && !is_symbol(peek(), "-")) return out;
    const bool minus = next().text == "-";
    if (!is_word(peek(), "interval")) {
      fail(peek().position, "expected INTERVAL 'DURATION' after now() " +
                                std::string(minus ? "-" : "+") + ", found " + shown(peek()));
    }
    next();
    const Token& value = peek();
    if (value.type != Tok::kString) {
      fail(value.position,
           "expected a quoted duration after INTERVAL ('15 minutes', '2h'), found " + shown(value));
    }
    next();
    std::chrono::milliseconds duration{};
    try {
      duration = interval_value(value.text);
    } catch (const ConfigError& e) {
      fail(value.position, "invalid interval '" + value.text + "' (" + e.what() + ")");
    }
    (void)now;
    out.offset = minus ? -duration : duration;
    return out;
  }

  // "15m", "1h30m", or "<number> <unit words>" ("15 minutes", "1 hour", "2 days").
  static std::chrono::milliseconds interval_value(const std::string& text) {
    std::string compact;
    std::string number;
    std::size_t i = 0;
    while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
    while (i < text.size() &&
           (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) {
      number += text[i++];
    }
    std::size_t spaces = 0;
    while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) {
      ++i;
      ++spaces;
    }
    if (spaces > 0 && !number.empty()) {
      std::string unit = lower(std::string_view(text).substr(i));
      while (!unit.empty() && std::isspace(static_cast<unsigned char>(unit.back())))
        unit.pop_back();
      static const std::pair<const char*, const char*> kUnits[] = {
          {"millisecond", "ms"}, {"milliseconds", "ms"}, {"second", "s"}, {"seconds", "s"},
          {"minute", "m"},       {"minutes", "m"},       {"hour", "h"},   {"hours", "h"},
          {"day", "d"},          {"days", "d"}};
      for (const auto& [word, suffix] : kUnits) {
        if (unit == word) return parse_duration(number + suffix, BareUnit::kSeconds);
      }
      throw ConfigError("unknown unit '" + unit + "'");
    }
    return parse_duration(text, BareUnit::kSeconds);
  }

  ConditionLiteral parse_literal(const std::string& context) {
    const Token& t = peek();
    ConditionLiteral out;
    if (t.type == Tok::kString) {
      out.type = ConditionLiteral::Type::kText;
      out.text = t.text;
    } else if (t.type == Tok::kNumber) {
      if (t.text.find('.') != std::string::npos) {
        const auto dots = std::count(t.text.begin(), t.text.end(), '.');
        if (dots > 1 || t.text.back() == '.') fail(t.position, "malformed number '" + t.text + "'");
        out.type = ConditionLiteral::Type::kDecimal;
        out.text = t.text;
        try {
          out.decimal = std::stod(t.text);
        } catch (const std::exception&) {
          fail(t.position, "malformed number '" + t.text + "'");
        }
      } else {
        out.type = ConditionLiteral::Type::kInteger;
        out.text = t.text;
        const char* first = t.text.data();
        const char* last = first + t.text.size();
        const auto [end, ec] = std::from_chars(first, last, out.integer);
        if (ec != std::errc() || end != last) {
          fail(t.position, "integer '" + t.text + "' out of range");
        }
      }
    } else if (is_word(t, "true") || is_word(t, "false")) {
      out.type = ConditionLiteral::Type::kBoolean;
      out.boolean = is_word(t, "true");
      out.text = out.boolean ? "true" : "false";
    } else if (is_word(t, "null")) {
      fail(t.position, "NULL is not a value to compare with: write IS NULL or IS NOT NULL");
    } else if (t.type == Tok::kWord && is_symbol(peek(1), "(")) {
      if (is_word(t, "now")) fail(t.position, "now() is not allowed " + context);
      fail(t.position, "function '" + t.text + "' is not supported (only now(), on the right)");
    } else if (is_word(t, "select")) {
      fail(t.position, "subqueries are not supported");
    } else if (t.type == Tok::kWord) {
      fail(t.position, "column-to-column comparisons are not supported ('" + t.text +
                           "' is not a literal; quote text in single quotes)");
    } else {
      fail(t.position, "expected a literal ('text', a number, true or false) " + context +
                           ", found " + shown(t));
    }
    next();
    return out;
  }

  std::string_view text_;
  std::vector<Token> tokens_;
  std::size_t pos_ = 0;
};

}  // namespace

ConditionPtr parse_condition(std::string_view text) { return Parser(text).parse(); }

}  // namespace batch_cleanup::config
