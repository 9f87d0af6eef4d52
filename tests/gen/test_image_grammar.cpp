// The state machine on hand-made sequences.
#include <gtest/gtest.h>

#include "gen/image_grammar.h"
#include "text/special_tokens.h"

using namespace emu35;
using K = StepPlan::Kind;

namespace {
// Feeds forced tokens / picks for the others; returns the generated ids.
std::vector<int32_t> drive(ImageGrammar& g, std::vector<int32_t> seq, int steps, std::vector<StepPlan>* plans = nullptr) {
  std::vector<int32_t> out;
  for (int i = 0; i < steps; ++i) {
    StepPlan p = g.next(seq);
    if (plans) plans->push_back(p);
    int32_t t = p.kind == K::Forced ? p.forced : p.kind == K::Digits ? p.hi : p.kind == K::Visual ? tok::BOV + 3 : 100;
    seq.push_back(t);
    out.push_back(t);
  }
  return out;
}
}  // namespace

TEST(ImageGrammar, TargetSizeForcesHeaderRowsAndEnd) {
  ImageGrammar g(TokenSize{2, 3}, std::vector<int32_t>{tok::BOS, 5}, true);
  std::vector<StepPlan> plans;
  auto out = drive(g, {tok::BOS, 7, tok::BOI}, 4 + 2 * 3 + 1 + 1 + 1, &plans);
  std::vector<int32_t> want = {tok::digit_id(2), tok::STAR, tok::digit_id(3), tok::IMG,
                               tok::BOV + 3, tok::BOV + 3, tok::BOV + 3, tok::EOL,
                               tok::BOV + 3, tok::BOV + 3, tok::BOV + 3, tok::EOI, 100};
  EXPECT_EQ(out, want);
  EXPECT_EQ(tok::EOI, out[11]);
  EXPECT_TRUE(plans[0].feed_uncond);
  EXPECT_EQ(plans[4].kind, K::Visual);
  EXPECT_TRUE(plans[12].feed_uncond);   // EOI goes to the unconditional stream...
  EXPECT_EQ(plans[12].kind, K::Text);   // ...while the conditional one is back in text mode
  EXPECT_EQ(g.progress().images_done, 1);
}

TEST(ImageGrammar, UnknownSizeSamplesTwoDigitsEach) {
  ImageGrammar g(std::nullopt, std::vector<int32_t>{tok::BOS}, true);
  std::vector<StepPlan> plans;
  drive(g, {tok::BOS, tok::BOI}, 7, &plans);
  EXPECT_EQ(plans[0].kind, K::Digits);
  EXPECT_EQ(plans[0].lo, tok::digit_id(1));
  EXPECT_EQ(plans[1].lo, tok::digit_id(0));
  EXPECT_EQ(plans[2].forced, tok::STAR);
  EXPECT_EQ(plans[3].lo, tok::digit_id(1));
  EXPECT_EQ(plans[4].lo, tok::digit_id(0));
  EXPECT_EQ(plans[5].forced, tok::IMG);
  EXPECT_EQ(plans[6].kind, K::Visual);
  EXPECT_EQ(g.size()->h, 99);  // the driver picked '9' for every digit
  EXPECT_EQ(g.size()->w, 99);
}

TEST(ImageGrammar, SizeFromLastReferenceInUnconditionalPrompt) {
  std::vector<int32_t> unc = {tok::BOS, tok::BOI, tok::digit_id(4), tok::STAR, tok::digit_id(5), tok::IMG, tok::BOV,
                              tok::EOI, tok::BOI, tok::digit_id(1), tok::digit_id(2), tok::STAR, tok::digit_id(7),
                              tok::IMG, tok::BOV, tok::EOI, 9};
  ImageGrammar g(std::nullopt, unc, true);
  ASSERT_TRUE(g.size());
  EXPECT_EQ(g.size()->h, 12);
  EXPECT_EQ(g.size()->w, 7);
  auto out = drive(g, {tok::BOS, tok::BOI}, 5);
  EXPECT_EQ(out, (std::vector<int32_t>{tok::digit_id(1), tok::digit_id(2), tok::STAR, tok::digit_id(7), tok::IMG}));
  // A target overrides the reference.
  ImageGrammar t(TokenSize{3, 3}, unc, true);
  EXPECT_EQ(t.size()->h, 3);
}

TEST(ImageGrammar, TextModeUntilBoi) {
  ImageGrammar g(TokenSize{1, 1}, std::vector<int32_t>{tok::BOS}, true);
  StepPlan p = g.next(std::vector<int32_t>{tok::BOS, 42});
  EXPECT_EQ(p.kind, K::Text);
  EXPECT_FALSE(p.feed_uncond);
  p = g.next(std::vector<int32_t>{tok::BOS, 42, tok::BOI});
  EXPECT_EQ(p.kind, K::Forced);
  EXPECT_TRUE(p.feed_uncond);
}

TEST(ImageGrammar, ParseHeader) {
  EXPECT_FALSE(parse_image_header(std::vector<int32_t>{tok::BOI, tok::digit_id(3), tok::IMG}));
  EXPECT_FALSE(parse_image_header(std::vector<int32_t>{tok::IMG, tok::BOI}));
  auto s = parse_image_header(std::vector<int32_t>{tok::BOI, tok::digit_id(6), tok::digit_id(4), tok::STAR,
                                                   tok::digit_id(6), tok::digit_id(4), tok::IMG});
  ASSERT_TRUE(s);
  EXPECT_EQ(s->h, 64);
  EXPECT_EQ(s->w, 64);
}
