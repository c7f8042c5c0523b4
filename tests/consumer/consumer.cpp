// A C++11 program using the installed gemmnet: the header must compile cleanly as C++
// (extern "C", no C-only constructs) and the C symbols must link from C++.
// tests/consumer/install.sh builds it with -std=c++11 -Wall -Wextra -pedantic -Werror.
#include <gemmnet.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

namespace
{

int failures = 0;

void check(bool ok, const std::string &what)
{
    if (!ok) {
        std::fprintf(stderr, "consumer-cxx: FAIL %s\n", what.c_str());
        failures++;
    }
}

struct net_deleter {
    void operator()(gn_net *net) const { gn_net_free(net); }
};
using net_ptr = std::unique_ptr<gn_net, net_deleter>;

} // namespace

int main()
{
    check(std::string(gn_version()) == GN_VERSION_STRING,
          std::string("gn_version() ") + gn_version() + " != GN_VERSION_STRING " +
              GN_VERSION_STRING);
    const char *none = gn_strerror(GN_OK), *null = gn_strerror(GN_ERR_NULL);
    check(none != nullptr && null != nullptr && std::strcmp(none, null) != 0,
          "gn_strerror gives distinct, non-NULL messages");

    // 3 inputs, 5 tanh hidden units, 2 identity outputs: a regression net, never trained.
    const std::vector<size_t> sizes = {3, 5, 2};
    gn_net_config cfg;
    gn_net_config_defaults(&cfg);
    cfg.sizes = sizes.data();
    cfg.n_sizes = sizes.size();
    cfg.hidden_act = GN_ACT_TANH;
    cfg.output_act = GN_ACT_IDENTITY;
    cfg.max_batch = 2; // smaller than the batch below: predict must work in chunks
    char why[256] = "";
    check(gn_net_config_check(&cfg, why, sizeof why) == GN_OK,
          std::string("gn_net_config_check: ") + why);
    gn_net *raw = nullptr;
    gn_status st = gn_net_create(&raw, &cfg);
    net_ptr net(raw);
    check(st == GN_OK && net != nullptr, std::string("gn_net_create: ") + gn_strerror(st));
    if (!net)
        return 1;

    // Five samples, one per column (3 × 5, ld 3), predicted into 2 × 5 (ld 2).
    const size_t n = 5;
    std::vector<float> x(3 * n), y(2 * n, NAN);
    for (size_t i = 0; i < x.size(); i++)
        x[i] = 0.25f * static_cast<float>(i % 7) - 0.5f;
    st = gn_net_predict(net.get(), x.data(), 3, n, y.data(), 2);
    check(st == GN_OK, std::string("gn_net_predict: ") + gn_net_last_error(net.get()));

    // The same outputs in double from the parameter buffer, laid out as the header documents:
    // [W1 (5 × 3, ld 5) | b1 (5) | W2 (2 × 5, ld 2) | b2 (2)].
    const float *p = gn_net_params(net.get());
    check(gn_net_n_params(net.get()) == 5 * 3 + 5 + 2 * 5 + 2, "gn_net_n_params");
    const float *w1 = p, *b1 = p + 15, *w2 = b1 + 5, *b2 = w2 + 10;
    for (size_t j = 0; j < n && st == GN_OK; j++) {
        double h[5];
        for (size_t i = 0; i < 5; i++) {
            double z = b1[i];
            for (size_t k = 0; k < 3; k++)
                z += static_cast<double>(w1[i + 5 * k]) * x[k + 3 * j];
            h[i] = std::tanh(z);
        }
        for (size_t i = 0; i < 2; i++) {
            double z = b2[i];
            for (size_t k = 0; k < 5; k++)
                z += static_cast<double>(w2[i + 2 * k]) * h[k];
            const double got = y[i + 2 * j];
            check(std::fabs(got - z) <= 1e-5 * (1.0 + std::fabs(z)),
                  "output " + std::to_string(i) + " of sample " + std::to_string(j) + ": " +
                      std::to_string(got) + " vs double " + std::to_string(z));
        }
    }

    // A bad call is reported, not fatal: ldx smaller than the number of inputs.
    st = gn_net_predict(net.get(), x.data(), 2, n, y.data(), 2);
    check(st == GN_ERR_DIM, std::string("predict with ldx 2 gave ") + gn_strerror(st));
    check(std::strlen(gn_net_last_error(net.get())) > 0, "no message after a failed call");

    if (failures == 0)
        std::printf("consumer-cxx: gemmnet %s: all checks passed\n", gn_version());
    return failures == 0 ? 0 : 1;
}
