#include "app/history_search.h"

#include <algorithm>

#include "app/search_grams.h"
#include "app/sqlite_db.h"

namespace glm4v::app {

namespace {

// A query term for FTS5: one phrase, embedded double quotes doubled.
std::string fts_phrase(const std::string& term) {
    std::string out = "\"";
    for (char c : term) {
        if (c == '"') out.push_back('"');
        out.push_back(c);
    }
    return out + "\"";
}

std::string like_pattern(const std::string& term) {
    std::string out = "%";
    for (char c : term) {
        if (c == '%' || c == '_' || c == '\\') out.push_back('\\');
        out.push_back(c);
    }
    return out + "%";
}

bool is_query_separator(char32_t c) { return c <= 0x20 || c == 0x3000 || c == 0xa0 || c == 0x7f; }

// One line around the first term's first occurrence, cut at whole code points.
std::string make_snippet(const std::string& text, const std::u32string& term) {
    constexpr std::size_t kBefore = 20, kAfter = 60;
    const std::u32string points = utf8_decode(text);
    const std::u32string folded = search_fold(text); // same positions as `points`
    std::size_t at = folded.find(term);
    if (at == std::u32string::npos) at = 0;
    const std::size_t begin = at > kBefore ? at - kBefore : 0;
    const std::size_t end = std::min(points.size(), at + term.size() + kAfter);
    std::u32string cut = points.substr(begin, end - begin);
    for (char32_t& c : cut)
        if (c == '\n' || c == '\r' || c == '\t') c = ' ';
    return (begin > 0 ? "…" : "") + utf8_encode(cut) + (end < points.size() ? "…" : "");
}

} // namespace

std::vector<SearchHit> search_history(sqlite::Database& db, const std::string& query_text, int limit) {
    // Terms, folded as the gram index is; short ones (1-2 characters) go to the gram table, the rest to
    // the trigram table, each side as one FTS5 AND-query.
    std::vector<std::u32string> terms;
    {
        const std::u32string folded = search_fold(query_text);
        std::u32string term;
        for (char32_t c : folded) {
            if (is_query_separator(c)) {
                if (!term.empty()) terms.push_back(term);
                term.clear();
            } else {
                term.push_back(c);
            }
        }
        if (!term.empty()) terms.push_back(term);
    }
    std::vector<SearchHit> hits;
    if (terms.empty()) return hits;

    std::string long_match, short_match;
    for (const std::u32string& term : terms) {
        std::string& match = term.size() >= 3 ? long_match : short_match;
        if (!match.empty()) match += " AND ";
        match += fts_phrase(term.size() >= 3 ? utf8_encode(term) : search_gram_token(term));
    }

    {
        std::string sql = "SELECT id, title, updated_ms FROM conversations WHERE 1";
        for (std::size_t i = 0; i < terms.size(); ++i) sql += " AND title LIKE ? ESCAPE '\\'";
        sql += " ORDER BY updated_ms DESC, id DESC";
        sqlite::Statement titles = db.prepare(sql);
        for (std::size_t i = 0; i < terms.size(); ++i)
            titles.bind(static_cast<int>(i + 1), like_pattern(utf8_encode(terms[i])));
        while (titles.step()) {
            SearchHit hit;
            hit.conversation_id = titles.column_int64(0);
            hit.title = titles.column_text(1);
            hit.snippet = hit.title;
            hit.created_ms = titles.column_int64(2);
            hits.push_back(std::move(hit));
        }
    }

    std::string matching;
    if (!long_match.empty()) matching = "SELECT rowid FROM message_trigrams WHERE message_trigrams MATCH ?1";
    if (!short_match.empty()) {
        if (!matching.empty()) matching += " INTERSECT ";
        matching += "SELECT rowid FROM message_grams WHERE message_grams MATCH ?2";
    }
    sqlite::Statement query = db.prepare(
        "SELECT m.id, m.conversation_id, m.text, m.created_ms, c.title FROM messages m "
        "JOIN conversations c ON c.id = m.conversation_id WHERE m.id IN (" +
        matching + ") ORDER BY m.id DESC LIMIT ?3");
    if (!long_match.empty()) query.bind(1, long_match);
    if (!short_match.empty()) query.bind(2, short_match);
    query.bind(3, limit);
    while (query.step()) {
        SearchHit hit;
        hit.message_id = query.column_int64(0);
        hit.conversation_id = query.column_int64(1);
        hit.snippet = make_snippet(query.column_text(2), terms.front());
        hit.created_ms = query.column_int64(3);
        hit.title = query.column_text(4);
        hits.push_back(std::move(hit));
    }
    return hits;
}

} // namespace glm4v::app
