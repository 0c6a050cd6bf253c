// Task: a move-only `void()` callable, for work handed from one thread to another.
//
// std::function needs a copyable callable; the work handed between threads here usually owns
// something (an outcome behind a unique_ptr, a response), so it must be movable only. One heap
// allocation per task; calling an empty task is a programming error.
#pragma once

#include <memory>
#include <type_traits>
#include <utility>

namespace oc {

class Task {
 public:
  Task() = default;
  template <class F, class = std::enable_if_t<!std::is_same_v<std::decay_t<F>, Task>>>
  Task(F&& f)  // NOLINT(google-explicit-constructor): lambdas convert, like std::function
      : impl_(std::make_unique<Impl<std::decay_t<F>>>(std::forward<F>(f))) {}

  void operator()() { impl_->Call(); }
  explicit operator bool() const { return impl_ != nullptr; }

 private:
  struct Base {
    virtual ~Base() = default;
    virtual void Call() = 0;
  };
  template <class F>
  struct Impl final : Base {
    explicit Impl(F&& fn) : f(std::move(fn)) {}
    explicit Impl(const F& fn) : f(fn) {}
    void Call() override { f(); }
    F f;
  };
  std::unique_ptr<Base> impl_;
};

}  // namespace oc
