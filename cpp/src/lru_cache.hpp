// A small least-recently-used map: the TensorRT session's per-shape CUDA graphs, so that a server
// seeing many image sizes keeps a bounded number of them. Not thread-safe (each execution context
// owns one and serves one call at a time).
#pragma once

#include <cstddef>
#include <list>
#include <memory>
#include <utility>

namespace trtmatte {

template <typename Key, typename Value>
class LruCache {
public:
    explicit LruCache(std::size_t capacity = 8) : capacity_(capacity < 1 ? 1 : capacity) {}

    // The value for `key` (now the most recently used), or nullptr.
    Value* find(const Key& key) {
        for (auto it = entries_.begin(); it != entries_.end(); ++it) {
            if (it->first == key) {
                entries_.splice(entries_.begin(), entries_, it);
                return it->second.get();
            }
        }
        return nullptr;
    }

    // Adds (or replaces) `key`; the least recently used entry goes when over capacity.
    void insert(const Key& key, std::unique_ptr<Value> value) {
        for (auto it = entries_.begin(); it != entries_.end(); ++it) {
            if (it->first == key) {
                entries_.erase(it);
                break;
            }
        }
        entries_.emplace_front(key, std::move(value));
        while (entries_.size() > capacity_) entries_.pop_back();
    }

    void clear() { entries_.clear(); }
    std::size_t size() const { return entries_.size(); }
    std::size_t capacity() const { return capacity_; }

private:
    std::size_t capacity_;
    std::list<std::pair<Key, std::unique_ptr<Value>>> entries_;  // most recently used first
};

}  // namespace trtmatte
