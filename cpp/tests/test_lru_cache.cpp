// The bounded per-shape CUDA graph cache's policy: at most `capacity` entries, the least recently
// used (found or inserted) dropped first.
#include "check.hpp"
#include "lru_cache.hpp"

#include <cstdint>
#include <memory>
#include <vector>

using trtmatte::LruCache;
using Shape = std::vector<std::int64_t>;

int main() {
    LruCache<Shape, int> cache(2);
    cache.insert({1, 10, 10, 3}, std::make_unique<int>(1));
    cache.insert({1, 20, 20, 3}, std::make_unique<int>(2));
    CHECK(cache.find({1, 10, 10, 3}) != nullptr);  // 10x10 is now the most recent
    cache.insert({1, 30, 30, 3}, std::make_unique<int>(3));  // drops 20x20
    CHECK_EQ(cache.size(), std::size_t(2));
    CHECK(cache.find({1, 20, 20, 3}) == nullptr);
    CHECK_EQ(*cache.find({1, 10, 10, 3}), 1);
    CHECK_EQ(*cache.find({1, 30, 30, 3}), 3);
    cache.insert({1, 30, 30, 3}, std::make_unique<int>(4));  // replaced, not duplicated
    CHECK_EQ(cache.size(), std::size_t(2));
    CHECK_EQ(*cache.find({1, 30, 30, 3}), 4);
    // A server seeing many sizes keeps `capacity` of them.
    for (std::int64_t side = 1; side <= 100; ++side) cache.insert({1, side, side, 3}, std::make_unique<int>(0));
    CHECK_EQ(cache.size(), std::size_t(2));
    cache.clear();
    CHECK_EQ(cache.size(), std::size_t(0));
    const LruCache<Shape, int> at_least_one(0);
    CHECK_EQ(at_least_one.capacity(), std::size_t(1));
    return check::summary("test_lru_cache");
}
