#!/usr/bin/env python3
"""Convert a GGUF model file into a Hugging Face folder that vLLM loads (config, tokenizer with its chat template,
safetensors weights).

Usage: gguf-to-hf.py MODEL.gguf DEST_FOLDER

transformers reads the GGUF (the weights dequantized); the weights are then copied into a model built from the
same config, so that what is written is a plain model without any trace of the GGUF loader, and saved as
safetensors. The folder is written beside DEST_FOLDER under a temporary name and renamed into place only when
complete: DEST_FOLDER either does not exist or holds a whole model.
"""
import os
import shutil
import sys


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__.splitlines()[2])
    source, dest = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2].rstrip("/"))
    if not os.path.isfile(source):
        sys.exit("gguf-to-hf: %s is not a file" % source)
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    folder, name = os.path.dirname(source), os.path.basename(source)
    partial = dest + ".partial"
    shutil.rmtree(partial, ignore_errors=True)
    config = AutoConfig.from_pretrained(folder, gguf_file=name)
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    loaded = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    missing, unexpected = model.load_state_dict(loaded.state_dict(), strict=False)
    # Tied embeddings are the one key a GGUF may leave out; anything else means a broken conversion.
    missing = [key for key in missing if not (config.tie_word_embeddings and key == "lm_head.weight")]
    if missing or unexpected:
        sys.exit("gguf-to-hf: the weights of %s do not fit its config (missing %s, unexpected %s)" % (source, missing, unexpected))
    if config.tie_word_embeddings:
        model.tie_weights()
    model.save_pretrained(partial, safe_serialization=True)
    tokenizer.save_pretrained(partial)
    if not os.path.isfile(os.path.join(partial, "config.json")):
        sys.exit("gguf-to-hf: no config.json was written for %s" % source)
    shutil.rmtree(dest, ignore_errors=True)
    os.rename(partial, dest)
    print("converted %s into %s" % (source, dest))


if __name__ == "__main__":
    main()
