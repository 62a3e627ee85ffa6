"""A NumPy twin of the torch models, with backpropagation through time written out by hand.

    from rnnviz.numpy_engine import NetConfig, init_params, forward_backward, Adam
    cfg = NetConfig(cell="lstm", input_size=4, hidden_size=50, output_size=4)
    params = init_params(cfg, seed=0)                  # or params_from_state_dict(torch_model.state_dict())
    opt = Adam(lr=1e-2)
    loss, grads, cache, out = forward_backward(params, cfg, x, y)   # x: [B, T] ids, y: [B, T]
    opt.step(params, grads)

Parameter names and layouts are torch.nn's (rnn.*, head.*, embedding.*); tests/test_numpy_engine.py
checks outputs, every gradient and every dL/dh_t against torch autograd. No torch import here.
"""
from .cells import BUGS, GATES, NUM_GATES
from .gradcheck import check_engine, check_hidden, engine_loss_fn, format_errors, gradient_check
from .network import (BPTT, IGNORE, Cache, NetConfig, backward, check_params, forward, forward_backward,
                      init_params, loss_and_grad, param_shapes, params_from_state_dict)
from .optim import SGD, Adam, Optimizer, RMSprop, clip_grad_norm, grad_norm, make_optimizer

__all__ = ["BUGS", "GATES", "NUM_GATES", "check_engine", "check_hidden", "engine_loss_fn", "format_errors",
           "gradient_check",
           "BPTT", "IGNORE", "Cache", "NetConfig", "backward", "check_params", "forward", "forward_backward",
           "init_params", "loss_and_grad", "param_shapes", "params_from_state_dict",
           "SGD", "Adam", "Optimizer", "RMSprop", "clip_grad_norm", "grad_norm", "make_optimizer"]
