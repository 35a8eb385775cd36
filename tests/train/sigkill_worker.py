"""Child process of test_sigkill: trains with a checkpoint after every step until killed.

Usage: python -m tests.train.sigkill_worker DIRECTORY READY_STEP EPOCHS [KILL_IN_WRITE_OF]

Prints "ready" once READY_STEP steps are done. With KILL_IN_WRITE_OF = a file name
(``run-4_1.ckpt``), the process SIGKILLs itself inside the ``os.fsync`` of that file's
temporary copy: its bytes are written but it has not been renamed into place yet.
"""

import os
import signal
import sys

from npukernel.train import CheckpointConfig, LambdaCallback, ModelCheckpoint
from tests.train.helpers import blob_dataset, make_model


def main(directory: str, ready_step: int, epochs: int, kill_in_write_of: str = "") -> None:
    if kill_in_write_of:
        real_fsync = os.fsync

        def fsync(fd):
            real_fsync(fd)
            name = os.path.basename(os.readlink(f"/proc/self/fd/{fd}"))
            if name.startswith(f".{kill_in_write_of}.") and name.endswith(".tmp"):
                os.kill(os.getpid(), signal.SIGKILL)

        os.fsync = fsync
    model, _, _ = make_model(seed=1, dropout=True)
    ckpt = ModelCheckpoint(
        "run", directory, CheckpointConfig(save_checkpoint_steps=1, keep_checkpoint_max=2)
    )

    def ready(ctx):
        if ctx.original_args().cur_step_num == ready_step:
            print("ready", flush=True)

    model.train(
        epochs,
        blob_dataset(n=80, batch=16),
        callbacks=[ckpt, LambdaCallback(on_train_step_end=ready)],
    )
    print("finished", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), *sys.argv[4:])
