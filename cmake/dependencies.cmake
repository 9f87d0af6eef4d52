# Every third-party dependency, from the distribution's packages. Optional ones
# switch features off cleanly (the GPU machine lacks some -dev packages).
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)
find_package(OpenMP REQUIRED)
find_package(nlohmann_json 3.10 REQUIRED)
find_package(CLI11 CONFIG REQUIRED)
find_package(yaml-cpp REQUIRED)
find_package(PNG REQUIRED)
find_package(JPEG REQUIRED)
find_package(ICU REQUIRED COMPONENTS uc)
set(BLA_VENDOR OpenBLAS)
find_package(BLAS REQUIRED)
find_path(CBLAS_INCLUDE_DIR cblas.h PATH_SUFFIXES openblas x86_64-linux-gnu/openblas-pthread x86_64-linux-gnu)

pkg_check_modules(WEBP IMPORTED_TARGET libwebp)
pkg_check_modules(LIBZIP IMPORTED_TARGET libzip)
pkg_check_modules(PCRE2 IMPORTED_TARGET libpcre2-8)
find_path(HTTPLIB_INCLUDE_DIR httplib.h)
# Debian's cpp-httplib is a compiled library: its header must be used with the
# same CPPHTTPLIB_* definitions it was built with (they change struct layouts),
# which its pkg-config file carries, along with -lcpp-httplib.
pkg_check_modules(HTTPLIB IMPORTED_TARGET cpp-httplib)

add_library(emu35_deps INTERFACE)
target_link_libraries(emu35_deps INTERFACE
  Threads::Threads OpenMP::OpenMP_CXX nlohmann_json::nlohmann_json yaml-cpp
  PNG::PNG JPEG::JPEG ICU::uc ${BLAS_LIBRARIES})
target_include_directories(emu35_deps INTERFACE ${CBLAS_INCLUDE_DIR})

if(WEBP_FOUND)
  target_link_libraries(emu35_deps INTERFACE PkgConfig::WEBP)
  target_compile_definitions(emu35_deps INTERFACE EMU35_HAVE_WEBP=1)
endif()
if(LIBZIP_FOUND)
  target_link_libraries(emu35_deps INTERFACE PkgConfig::LIBZIP)
  target_compile_definitions(emu35_deps INTERFACE EMU35_HAVE_LIBZIP=1)
endif()
if(PCRE2_FOUND)
  # Only the tests use PCRE2: the tokenizer's pre-splitter is checked against the
  # upstream regular expression run through it.
  add_library(emu35_pcre2 INTERFACE)
  target_link_libraries(emu35_pcre2 INTERFACE PkgConfig::PCRE2)
  target_compile_definitions(emu35_pcre2 INTERFACE EMU35_HAVE_PCRE2=1)
endif()

add_library(emu35_app_deps INTERFACE)
target_link_libraries(emu35_app_deps INTERFACE CLI11::CLI11)
if(HTTPLIB_FOUND)
  target_link_libraries(emu35_app_deps INTERFACE PkgConfig::HTTPLIB)
  target_compile_definitions(emu35_app_deps INTERFACE EMU35_HAVE_HTTPLIB=1)
endif()

message(STATUS "emu35: webp=${WEBP_FOUND} libzip=${LIBZIP_FOUND} pcre2=${PCRE2_FOUND} httplib=${HTTPLIB_FOUND}")

# The upstream Story protobuf (generate --proto).
find_package(Protobuf REQUIRED)
protobuf_generate_cpp(EMU35_PROTO_SRCS EMU35_PROTO_HDRS ${PROJECT_SOURCE_DIR}/proto/interleave_story.proto)
add_library(emu35_proto STATIC ${EMU35_PROTO_SRCS})
target_include_directories(emu35_proto PUBLIC ${CMAKE_CURRENT_BINARY_DIR})
target_link_libraries(emu35_proto PUBLIC protobuf::libprotobuf)
set_target_properties(emu35_proto PROPERTIES POSITION_INDEPENDENT_CODE ON)
target_link_libraries(emu35_app_deps INTERFACE emu35_proto)
