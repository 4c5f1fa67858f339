// ember_fuzz_seeds SOURCE_DIR OUT_DIR: writes the seed corpus of every fuzz target to
// OUT_DIR/<target>/<seed name> (see fuzz_targets.h). CI and FUZZING.md run it before fuzzing.
#include <sys/stat.h>

#include <cstdio>
#include <string>

#include "fuzz/fuzz_targets.h"

int main(int argc, char** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: %s SOURCE_DIR OUT_DIR\n", argv[0]);
        return 2;
    }
    const std::string out = argv[2];
    ::mkdir(out.c_str(), 0755);
    for (const auto& t : ember::fuzz::targets()) {
        const std::string dir = out + "/" + t.name;
        ::mkdir(dir.c_str(), 0755);
        const auto seeds = ember::fuzz::seeds(t.name, argv[1]);
        for (const auto& s : seeds) {
            const std::string path = dir + "/" + s.name;
            FILE* f = std::fopen(path.c_str(), "wb");
            if (f == nullptr || std::fwrite(s.bytes.data(), 1, s.bytes.size(), f) != s.bytes.size() || std::fclose(f) != 0) {
                std::fprintf(stderr, "cannot write %s\n", path.c_str());
                return 1;
            }
        }
        std::printf("%s: %zu seeds\n", t.name, seeds.size());
    }
    return 0;
}
