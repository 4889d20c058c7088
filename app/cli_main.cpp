#include <iostream>

int main() { std::cout << "reviewkd\n"; return 0; }
