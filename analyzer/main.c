/* main.c: the heapscope executable. */
#include "analyzer.h"

int main(int argc, char **argv)
{
	return hs_cli_main(argc, argv);
}
