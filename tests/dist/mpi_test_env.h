// What the dist tests share: the world communicator that mpi_test_main.cpp sets up once.
#pragma once

#include "dist/mpi_communicator.h"

namespace kiln::test {

// An MpiCommunicator over MPI_COMM_WORLD, alive for the whole test run.
MpiCommunicator& world();

}  // namespace kiln::test
