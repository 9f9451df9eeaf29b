/*
 * e2e_cxx.cpp - a C++ program built g++ -O2 -g, as a new user's: a template
 * cache of shapes keyed by std::string, filled through a lambda, and a
 * leaked circle. Its sites' names are the demangler's, up to 250 characters
 * ("geo::Cache<std::__cxx11::basic_string<char, ...>, geo::Shape>::get(...)"),
 * and the lambda's inlined frame is "operator()".
 */
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace geo {
struct Shape {
    virtual ~Shape() = default;
    virtual double area() const = 0;
};

template <typename T> struct Polygon : Shape {
    std::vector<T> xs, ys;
    explicit Polygon(int n) : xs(n), ys(n) {}
    double area() const override { return xs.size() * 1.5; }
};

template <typename Key, typename Value> class Cache {
  public:
    std::shared_ptr<Value> get(const Key &k, const std::function<std::shared_ptr<Value>()> &make)
    {
        auto it = map_.find(k);
        if (it != map_.end())
            return it->second;
        auto v = make();
        map_.emplace(k, v);
        return v;
    }
    size_t size() const { return map_.size(); }

  private:
    std::map<Key, std::shared_ptr<Value>> map_;
};
} // namespace geo

static geo::Cache<std::string, geo::Shape> *g_cache = new geo::Cache<std::string, geo::Shape>;

int main()
{
    double sum = 0;
    for (int i = 0; i < 100; i++) {
        auto key = "shape-number-" + std::to_string(i % 40);
        auto s = g_cache->get(key, [i]() { return std::make_shared<geo::Polygon<float>>(i + 16); });
        sum += s->area();
    }
    std::printf("%.1f %zu\n", sum, g_cache->size());
    return 0;
}
