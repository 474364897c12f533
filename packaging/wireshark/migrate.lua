-- SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
--
-- migrate.lua - Wireshark/tshark dissector for the migrate TCP option
-- (docs/protocol.md, include/migrate/mig_opt.h): the shared experimental
-- option (RFC 6994) kind 253 with ExID 0x4D47 ("MG"), and the 8-byte tag
-- that RSTs of keyed flows carry as payload.
--
--   len 20            MP_SYN       X25519 public key bytes 0..15
--   len 22, sub 1     KEY2         flags (HAVE 0x01, DONE 0x02, NEED1 0x04),
--                                  public key bytes 16..31
--   len 22, sub 6     KEY1         mark (first byte of the responder key),
--                                  public key bytes 0..15 again
--   len 25, sub 2     MIGRATE      reqno, token, mac   (Migrate SYN)
--   len 25, sub 3     MIGRATE_ACK  reqno, nonce, mac   (Migrate SYN/ACK)
--   len 25, sub 4     CONFIRM      reqno, nonce, mac   (the mover's ACK)
--   RST + 8 bytes     reset tag    SipHash(key, 5 || seq || ack)
--
-- A post-dissector: it reads the option bytes Wireshark's TCP dissector
-- found (tcp.options) and adds a "Migrate" tree.  Load it with
--   tshark -X lua_script:migrate.lua ...
-- or install it into a plugin folder (`tshark -G folders`: "Global Lua
-- Plugins"); `make install` does.  Filter fields: migrate.type,
-- migrate.reqno, migrate.token, migrate.nonce, migrate.mac,
-- migrate.key_half, migrate.key2.flags, migrate.key1.mark,
-- migrate.rst_tag, migrate.malformed.

local KIND = 253
local EXID = 0x4D47

local p = Proto("migrate", "Migrate TCP host mobility")

local types = {
	[1] = "MP_SYN", [2] = "KEY2", [3] = "MIGRATE", [4] = "MIGRATE_ACK",
	[5] = "CONFIRM", [6] = "KEY1", [7] = "RST_TAG",
}
local subs = {
	[1] = "KEY2", [2] = "MIGRATE", [3] = "MIGRATE_ACK", [4] = "CONFIRM",
	[5] = "RESET", [6] = "KEY1",
}

local f = {
	type      = ProtoField.uint8("migrate.type", "Type", base.DEC, types),
	exid      = ProtoField.uint16("migrate.exid", "ExID", base.HEX),
	len       = ProtoField.uint8("migrate.len", "Length", base.DEC),
	sub       = ProtoField.uint8("migrate.sub", "Sub type", base.DEC, subs),
	key_half  = ProtoField.bytes("migrate.key_half", "X25519 public key half"),
	key_part  = ProtoField.string("migrate.key_part", "Key bytes"),
	flags     = ProtoField.uint8("migrate.key2.flags", "KEY2 flags", base.HEX),
	f_have    = ProtoField.bool("migrate.key2.flags.have", "HAVE (I hold your whole key)", 8, nil, 0x01),
	f_done    = ProtoField.bool("migrate.key2.flags.done", "DONE (I saw your HAVE)", 8, nil, 0x02),
	f_need1   = ProtoField.bool("migrate.key2.flags.need1", "NEED1 (I lack your first half)", 8, nil, 0x04),
	mark      = ProtoField.uint8("migrate.key1.mark", "KEY1 mark (responder key's first byte)", base.HEX),
	reqno     = ProtoField.uint32("migrate.reqno", "Request number", base.DEC),
	token     = ProtoField.bytes("migrate.token", "Token"),
	nonce     = ProtoField.bytes("migrate.nonce", "Nonce"),
	mac       = ProtoField.bytes("migrate.mac", "MAC"),
	rst_tag   = ProtoField.bytes("migrate.rst_tag", "Reset tag"),
	malformed = ProtoField.string("migrate.malformed", "Malformed"),
}
p.fields = f

local tcp_options = Field.new("tcp.options")
local tcp_srcport = Field.new("tcp.srcport")
local tcp_hdr_len = Field.new("tcp.hdr_len")
local tcp_len = Field.new("tcp.len")
local tcp_rst = Field.new("tcp.flags.reset")
local tcp_syn = Field.new("tcp.flags.syn")

-- One kind-253 option at offset off of the option range r: returns the
-- name for the Info column, or nil if it is not ours.
local function option(r, off, olen, tree)
	if olen < 4 or r(off + 2, 2):uint() ~= EXID then
		return nil
	end
	local o = r(off, olen)
	local t = tree:add(p, o, "Migrate option")
	t:add(f.len, r(off + 1, 1))
	t:add(f.exid, r(off + 2, 2))
	local function bad(why)
		t:add(f.malformed, o, why)
		t:add_proto_expert_info(nil, why)
		t:append_text(": malformed (" .. why .. ")")
		return "MALFORMED"
	end
	if olen == 20 then
		t:add(f.type, 1):set_generated()
		t:add(f.key_half, r(off + 4, 16))
		t:add(f.key_part, "0..15"):set_generated()
		t:append_text(": MP_SYN")
		return "MP_SYN"
	end
	if olen < 5 then
		return bad("length " .. olen)
	end
	local sub = r(off + 4, 1):uint()
	t:add(f.sub, r(off + 4, 1))
	if sub == 1 or sub == 6 then
		if olen ~= 22 then
			return bad("length " .. olen .. " for sub " .. sub)
		end
		if sub == 1 then
			t:add(f.type, 2):set_generated()
			local ft = t:add(f.flags, r(off + 5, 1))
			ft:add(f.f_have, r(off + 5, 1))
			ft:add(f.f_done, r(off + 5, 1))
			ft:add(f.f_need1, r(off + 5, 1))
			t:add(f.key_half, r(off + 6, 16))
			t:add(f.key_part, "16..31"):set_generated()
			t:append_text(string.format(": KEY2 flags 0x%02x", r(off + 5, 1):uint()))
			return "KEY2"
		end
		t:add(f.type, 6):set_generated()
		t:add(f.mark, r(off + 5, 1))
		t:add(f.key_half, r(off + 6, 16))
		t:add(f.key_part, "0..15"):set_generated()
		t:append_text(": KEY1")
		return "KEY1"
	end
	if sub == 2 or sub == 3 or sub == 4 then
		if olen ~= 25 then
			return bad("length " .. olen .. " for sub " .. sub)
		end
		local name = subs[sub]
		t:add(f.type, sub + 1):set_generated()
		t:add(f.reqno, r(off + 5, 4))
		if sub == 2 then
			t:add(f.token, r(off + 9, 8))
		else
			t:add(f.nonce, r(off + 9, 8))
		end
		t:add(f.mac, r(off + 17, 8))
		t:append_text(string.format(": %s reqno %u", name, r(off + 5, 4):uint()))
		return name .. " reqno=" .. r(off + 5, 4):uint()
	end
	return bad("unknown sub " .. sub)
end

function p.dissector(tvb, pinfo, tree)
	local names = {}
	local ofi = tcp_options()
	if ofi then
		local r = ofi.range
		local n, off = r:len(), 0
		local sub = nil
		while off < n do
			local kind = r(off, 1):uint()
			if kind == 0 then
				break
			elseif kind == 1 then
				off = off + 1
			else
				if off + 1 >= n then
					break
				end
				local olen = r(off + 1, 1):uint()
				if olen < 2 or off + olen > n then
					break
				end
				if kind == KIND then
					sub = sub or tree:add(p, r, "Migrate")
					local name = option(r, off, olen, sub)
					if name then
						names[#names + 1] = name
					end
				end
				off = off + olen
			end
		end
	end
	-- the reset tag: exactly 8 payload bytes on a RST without SYN
	-- (Wireshark shows a RST's payload as a "reset cause", not as
	-- tcp.payload: find it from the header's own offset and length)
	local rst, syn, sp, hl, tl = tcp_rst(), tcp_syn(), tcp_srcport(), tcp_hdr_len(), tcp_len()
	if rst and rst.value and not (syn and syn.value) and sp and hl and tl and
	    tl.value == 8 and sp.offset + hl.value + 8 <= tvb:len() then
		local pl = tvb(sp.offset + hl.value, 8)
		local t = tree:add(p, pl, "Migrate reset tag")
		t:add(f.type, 7):set_generated()
		t:add(f.rst_tag, pl)
		names[#names + 1] = "RST_TAG"
	end
	if #names > 0 then
		pinfo.cols.info:append(" [Migrate " .. table.concat(names, ", ") .. "]")
	end
end

register_postdissector(p)
