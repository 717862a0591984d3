#!/usr/bin/env python3
"""Give an Annex B H.264 stream CEA-608 closed captions, as a broadcast capture has them.

Usage: insert_a53_captions.py IN.h264 OUT.h264 TEXT

Before every picture's slice an SEI NAL unit (user_data_registered_itu_t_t35, ATSC A/53
"GA94", cc_data) carries one CEA-608 byte pair for field 1: a pop-on caption showing
TEXT (resume caption loading, a preamble for row 15, the characters, end of caption),
erased again at picture 45; every other picture carries padding. ffmpeg's decoders
export these as A53_CC frame side data and its ccaption decoder reads them back as text
(`movie=FILE[out0+subcc]`), which is how the tests compare captions before and after.
"""
import sys


def with_parity(byte):
    """CEA-608 bytes carry odd parity in bit 7."""
    byte &= 0x7F
    return byte | (0x80 if bin(byte).count("1") % 2 == 0 else 0)


def byte_pair(first, second):
    return with_parity(first), with_parity(second)


def caption_pairs(text):
    resume_loading, preamble_row15 = byte_pair(0x14, 0x20), byte_pair(0x14, 0x70)
    end_of_caption = byte_pair(0x14, 0x2F)
    codes = [ord(c) for c in text] + ([0] if len(text) % 2 else [])
    characters = [byte_pair(codes[i], codes[i + 1]) for i in range(0, len(codes), 2)]
    # Control codes are sent twice, as captioning equipment does.
    return [resume_loading] * 2 + [preamble_row15] * 2 + characters + [end_of_caption] * 2


ERASE_AT = 45
PADDING = (0x80, 0x80)


def pair_for_picture(pairs, picture):
    if picture < len(pairs):
        return pairs[picture]
    if picture in (ERASE_AT, ERASE_AT + 1):
        return byte_pair(0x14, 0x2C)  # erase displayed memory
    return PADDING


def emulation_prevention(rbsp):
    out, zeros = bytearray(), 0
    for byte in rbsp:
        if zeros >= 2 and byte <= 3:
            out.append(3)
            zeros = 0
        out.append(byte)
        zeros = zeros + 1 if byte == 0 else 0
    return bytes(out)


def caption_sei(first, second):
    cc_data = bytes([0x40 | 1, 0xFF, 0xFC, first, second, 0xFF])  # one field-1 pair
    payload = bytes([0xB5, 0x00, 0x31]) + b"GA94" + bytes([0x03]) + cc_data
    rbsp = bytes([4, len(payload)]) + payload + bytes([0x80])
    return b"\x00\x00\x00\x01\x06" + emulation_prevention(rbsp)


def nal_units(data):
    """(start of the start code, start of the NAL header) of every NAL unit."""
    units, position = [], 0
    while (found := data.find(b"\x00\x00\x01", position)) >= 0:
        start = found - 1 if found > 0 and data[found - 1] == 0 else found
        units.append((start, found + 3))
        position = found + 3
    return units


def main():
    source, target, text = sys.argv[1], sys.argv[2], sys.argv[3]
    data = open(source, "rb").read()
    pairs = caption_pairs(text)
    units = nal_units(data)
    out, picture = bytearray(), 0
    for index, (start, header) in enumerate(units):
        end = units[index + 1][0] if index + 1 < len(units) else len(data)
        if data[header] & 0x1F in (1, 5):  # a slice: one per picture in these streams
            out += caption_sei(*pair_for_picture(pairs, picture))
            picture += 1
        out += data[start:end]
    open(target, "wb").write(bytes(out))


if __name__ == "__main__":
    main()
