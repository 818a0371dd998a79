//! The filter lexer: characters to tokens, with the reference's word rules.

use super::Comparator;

/// One token of a filter.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Token {
    Eof,
    Word(String),
    LeftParen,
    RightParen,
    Quote(char),
    LeftBracket,
    RightBracket,
    Comma,
    And,
    Or,
    True,
    False,
    Not,
    Operator(Comparator),
    Illegal(char),
}

impl Token {
    /// The text shown in error messages (`EOF` at the end).
    pub(crate) fn literal(&self) -> String {
        match self {
            Token::Eof => "EOF".to_string(),
            Token::Word(w) => w.clone(),
            Token::LeftParen => "(".to_string(),
            Token::RightParen => ")".to_string(),
            Token::Quote(q) | Token::Illegal(q) => q.to_string(),
            Token::LeftBracket => "[".to_string(),
            Token::RightBracket => "]".to_string(),
            Token::Comma => ",".to_string(),
            Token::And => "and".to_string(),
            Token::Or => "or".to_string(),
            Token::True => "true".to_string(),
            Token::False => "false".to_string(),
            Token::Not => "not".to_string(),
            Token::Operator(c) => c.as_str().to_string(),
        }
    }
}

/// Characters that may appear in a bare word besides letters and digits.
const WORD_SPECIALS: &str = "-_@:$#./\\*";
const OPERATOR_STARTS: &str = "<>=!";

pub(crate) fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || WORD_SPECIALS.contains(c) || OPERATOR_STARTS.contains(c)
}

fn symbol_operator(text: &str) -> Option<Comparator> {
    match text {
        "==" => Some(Comparator::Equal),
        "!=" => Some(Comparator::NotEqual),
        "<" => Some(Comparator::Lesser),
        "<=" => Some(Comparator::LesserOrEqual),
        ">" => Some(Comparator::Greater),
        ">=" => Some(Comparator::GreaterOrEqual),
        _ => None,
    }
}

/// The token a bare word stands for: a keyword (case-insensitive) or a word.
pub(crate) fn keyword(word: &str) -> Option<Token> {
    Some(match word.to_ascii_lowercase().as_str() {
        "and" => Token::And,
        "or" => Token::Or,
        "true" => Token::True,
        "false" => Token::False,
        "not" => Token::Not,
        "contains" => Token::Operator(Comparator::Contains),
        "in" => Token::Operator(Comparator::In),
        "matches" => Token::Operator(Comparator::Matches),
        "exists" => Token::Operator(Comparator::Exists),
        "notexists" => Token::Operator(Comparator::NotExists),
        _ => return None,
    })
}

/// A cursor over the characters of a filter.
pub(crate) struct Lexer {
    chars: Vec<char>,
    pos: usize,
}

impl Lexer {
    pub(crate) fn new(input: &str) -> Self {
        Self {
            chars: input.chars().collect(),
            pos: 0,
        }
    }

    fn at(&self, i: usize) -> Option<char> {
        self.chars.get(i).copied()
    }

    /// The operator starting at `i`, with its length, if any.
    fn operator_at(&self, i: usize) -> Option<(Comparator, usize)> {
        let c = self.at(i)?;
        if !OPERATOR_STARTS.contains(c) {
            return None;
        }
        if let Some(n) = self.at(i + 1) {
            let pair: String = [c, n].iter().collect();
            if let Some(op) = symbol_operator(&pair) {
                return Some((op, 2));
            }
        }
        symbol_operator(&c.to_string()).map(|op| (op, 1))
    }

    /// The next token, skipping white space.
    pub(crate) fn next_token(&mut self) -> Token {
        while self.at(self.pos).is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
        let Some(c) = self.at(self.pos) else {
            return Token::Eof;
        };
        if let Some((op, len)) = self.operator_at(self.pos) {
            self.pos += len;
            return Token::Operator(op);
        }
        let single = match c {
            '(' => Some(Token::LeftParen),
            ')' => Some(Token::RightParen),
            '"' | '\'' => Some(Token::Quote(c)),
            '[' => Some(Token::LeftBracket),
            ']' => Some(Token::RightBracket),
            ',' => Some(Token::Comma),
            _ => None,
        };
        if let Some(token) = single {
            self.pos += 1;
            return token;
        }
        if is_word_char(c) {
            return self.scan_word();
        }
        self.pos += 1;
        Token::Illegal(c)
    }

    /// The next token without consuming it.
    pub(crate) fn peek_token(&mut self) -> Token {
        let saved = self.pos;
        let token = self.next_token();
        self.pos = saved;
        token
    }

    fn scan_word(&mut self) -> Token {
        let mut word = String::new();
        while let Some(c) = self.at(self.pos) {
            if !is_word_char(c) || (!word.is_empty() && self.operator_at(self.pos).is_some()) {
                break;
            }
            if c == '\\' {
                if let Some(escaped) = self.at(self.pos + 1) {
                    word.push(escaped);
                    self.pos += 2;
                    continue;
                }
            }
            word.push(c);
            self.pos += 1;
        }
        keyword(&word).unwrap_or(Token::Word(word))
    }

    /// Reads raw characters up to the closing `quote` (a backslash escapes the next
    /// character). `Err` with what was read when the input ends first.
    pub(crate) fn read_quoted(&mut self, quote: char) -> Result<String, String> {
        let mut text = String::new();
        while let Some(c) = self.at(self.pos) {
            self.pos += 1;
            if c == quote {
                return Ok(text);
            }
            if c == '\\' {
                if let Some(escaped) = self.at(self.pos) {
                    text.push(escaped);
                    self.pos += 1;
                    continue;
                }
            }
            text.push(c);
        }
        Err(text)
    }

    /// Reads raw characters up to the next `)`, consuming it. `None` when the input ends or
    /// another `(` comes first.
    pub(crate) fn read_until_right_paren(&mut self) -> Option<String> {
        let mut text = String::new();
        while let Some(c) = self.at(self.pos) {
            self.pos += 1;
            match c {
                ')' => return Some(text),
                '(' => return None,
                _ => text.push(c),
            }
        }
        None
    }
}
