#pragma once
// History search (docs/history.md "Search"): whitespace-separated terms, each a substring that must occur;
// 3+ character terms go to the FTS5 trigram index, 1-2 character terms to the gram index
// (search_grams.h), titles are matched with LIKE. Used by HistoryStore::search.

#include <string>
#include <vector>

#include "app/history_store.h"

namespace glm4v::app {

namespace sqlite {
class Database;
}

// Title hits first (most recently updated first), then at most `limit` messages, newest first.
std::vector<SearchHit> search_history(sqlite::Database& db, const std::string& query, int limit);

} // namespace glm4v::app
