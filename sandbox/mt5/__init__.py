r"""A MetaTrader 5 Web API server: the subset the product uses, with simulated trading, state
persisted in sqlite, and fault injection. This docstring is the contract's home: the product's
adapter (clients/platforms/) speaks exactly the contract below, and this server implements it.

Where things are: protocol.py the wire (retcodes, parameters, password hashing, records);
auth.py the handshake and sessions; api.py the calls below; store.py the sqlite state;
deals.py reading, correcting and deleting single deals; market.py prices, account figures
and opening/closing positions; simulation.py the trading that goes on by itself; control.py and history.py the /_sandbox/mt5/ control endpoints (their
contract is in control.py); state.py what ties them together; server.py HTTP and faults.

# MT5 Web API contract (the subset the product uses; the sandbox implements it, the adapter speaks it)

Transport: HTTP(S), JSON answers. Every answer: {"retcode": "<code> <text>", "answer": ...}.
Calls are GETs with query parameters, or POSTs whose JSON object body carries record fields
(PassMain, PassInvestor, Login, Type, Password, Group, Name, Leverage, Email, Country, Comment,
Rights)
standing for the parameters of the same meaning; the product sends passwords only that way.
ALL numbers in answers are JSON strings ("Login": "500012", "Balance": "1000.00", "Volume": "10000").
Times are SERVER-LOCAL epoch seconds (i.e. the wall-clock time in the server's time zone, written as if
it were UTC epoch) — `Time`, `TimeCreate`, `TimeUpdate`, `Registration`; `TimeMsc` is the same in ms.
The sandbox server's zone is SANDBOX_MT5_TIMEZONE (IANA name, default "Europe/Athens", i.e. UTC+2/UTC+3).
Request parameters `from`/`to` are server-local epoch seconds too.

Retcodes (text after the number is informative; MetaQuotes' "Return codes" pages):
  "0 Done"                        success
  "3 Invalid parameters"          missing/bad parameter, unknown group
  "8 Not enough permissions"      HTTP 403: no session / session expired (client must re-authenticate);
                                  HTTP 200: a live session refused this request (user/add into a group
                                  that does not exist on the server, as MetaQuotes documents)
  "12 Too frequent requests"      rate limited (max_rps)
  "13 Not found"                  unknown login / path (HTTP 404 for unknown path)
  1000-1023                       authentication (MT_RET_AUTH_*): "1000 Invalid terminal type"
                                  (type is not manager), "1001 Invalid account" (wrong login OR wrong
                                  password answer), "1002 Account disabled", "1010 Old client version"
                                  (version < 484), "1011" no manager config, "1012" IP not allowed,
                                  "1018 Server is busy", "1022" license limit... (the sandbox answers
                                  1000, 1001 and 1010 by itself; the others when armed, control.py)
  "3006 Invalid account password" user/add, change_password: the password breaks the rule below;
                                  check_password: not the account's password
  "10017 Trade disabled"          a simulated order on an account whose Rights carry
                                  USER_RIGHT_TRADE_DISABLED
  "10044 Only position closing is allowed"
                                  a simulated order opening a position in a group whose symbols'
                                  trade mode is close-only (real\\close-only-usd, -eur); closing is
                                  allowed
  "10019 Not enough money"        trade/balance withdrawal beyond free margin (check_margin=1), or a
                                  simulated order without margin

Auth:
  GET /api/auth/start?version=484&agent=<name, no spaces>&login=<manager>&type=manager
      -> {"retcode","version_access","srv_rand"} + session cookie
  GET /api/auth/answer?srv_rand_answer=&cli_rand=  -> {"retcode","cli_rand_answer"}
  pw = MD5(MD5(utf16le(password)) + b"WebAPI"); srv_rand_answer = hex(MD5(pw + bytes(srv_rand)));
  cli_rand_answer = hex(MD5(pw + cli_rand)).
  Sessions expire after SANDBOX_MT5_SESSION_IDLE seconds without a request (default 600); an expired
  or unknown session gets HTTP 403 {"retcode": "8 Not enough permissions"}.
  GET /api/test/access -> {"retcode":"0 Done"} (keep-alive)

Users:
  GET /api/user/add?pass_main=&pass_investor=&group=&name=&leverage=&email=&country=&comment=
      Server assigns Login (sequential from 500001). group must be one of the server's groups (else
      "8 Not enough permissions", HTTP 200):
      "real\\standard-usd" (USD), "real\\standard-eur" (EUR), "real\\pro-usd" (USD), "demo\\forex-usd" (USD),
      and the close-only groups "real\\close-only-usd" (USD) and "real\\close-only-eur" (EUR).
      leverage: 1..1000. pass_main, pass_investor: 8-16 characters of the four kinds (lower case,
      upper case, digits, special characters such as #@!), else "3006 Invalid account password".
      comment: <= 64 chars. -> {"retcode", "login": "<login>", "answer": user record}. NO
      idempotency: sent twice, it opens two accounts (that is why the client looks the account up
      by its comment after a timeout).
  GET /api/user/get?login=   -> answer: user record    ("13 Not found" for unknown login)
  GET /api/user/get_batch?login=1,2,3 and/or &group=<mask> -> answer: list of user records
  GET /api/user/logins?group=<mask>  -> answer: list of logins (strings), ascending
  GET /api/user/change_password?login=&type=main|investor&password=  -> {"retcode": "0 Done"}
      (same password rule as user/add, "3006 Invalid account password"; "13 Not found" for an
      unknown login)
  GET /api/user/check_password?login=&type=main|investor&password=  -> {"retcode": "0 Done"}, or
      "3006 Invalid account password"
  GET|POST /api/user/update?login=&rights=&leverage=&group=&name=&email=&country=&comment=
      Change a user record (a POST's JSON body may carry the record's fields instead, e.g.
      {"Rights": "359"}, and overrides the query). login is required ("13 Not found" when
      unknown); each other parameter given replaces the record's, and one whose value is
      incorrect does not change (rights: a sum of IMTUser::EnUsersRights flags; leverage: 1 to
      500; group: one of the server's groups). -> answer: the user record as it now stands.
      Setting absolute values, it may be sent again after a lost answer.
      (MetaQuotes' page: https://support.metaquotes.net/en/docs/mt5/webapi/user/user_update.)
  user record: {"Login","Group","Name","Email","Country","Leverage","Balance","Credit","Registration",
                "LastAccess","Comment","Rights"}
      Rights: IMTUser::EnUsersRights flags summed, as a string: USER_RIGHT_ENABLED 0x1 (may
      connect), USER_RIGHT_PASSWORD 0x2, USER_RIGHT_TRADE_DISABLED 0x4 ("Trading is disabled for
      the user"), USER_RIGHT_TRAILING 0x20, USER_RIGHT_EXPERT 0x40, USER_RIGHT_REPORTS 0x100...;
      user/add takes `rights` too, default USER_RIGHT_DEFAULT 0x163 (355). An account with
      USER_RIGHT_TRADE_DISABLED opens and closes nothing: its orders are refused "10017 Trade
      disabled" (MT_RET_REQUEST_TRADE_DISABLED). MT5 has no close-only right per account
      (close-only is a symbol's trade mode), so trading disabled is how an account is stopped.
  GET /api/user/account/get?login=  -> answer: account record
  GET /api/user/account/get_batch?login=1,2,3   (comma-separated, up to 1000) and/or &group=<mask>
      -> answer: list of account records (unknown logins simply absent)
  account record: {"Login","CurrencyDigits":"2","Balance","Credit","Margin","MarginFree","MarginLevel",
                   "MarginLeverage","Profit","Storage","Floating","Equity"}
  (Equity = Balance + Credit + floating Profit + Storage of open positions; Margin from open positions
   volume*contract*price/leverage, MarginFree = Equity - Margin.)
  Group currency: the account's currency is its group's (see groups above); GET /api/group/get?group=
  -> answer {"Group","Currency","CurrencyDigits":"2","Symbols":[{"Path":"*","TradeMode"}]} (small:
  the currency, and the trade mode of the group's symbols: "4" full, "3" close-only in the
  real\\close-only-usd and -eur groups, where an order opening a position is refused).

Balance operations:
  GET /api/trade/balance?login=&type=2&balance=<signed decimal, 2 dp>&comment=<<=32 chars>&check_margin=1
      positive deposits, negative withdraws. Writes a deal with Action=2 (balance), Symbol "",
      Profit=<amount>, Comment=<comment>, Volume "0", Price "0". -> answer {"Ticket": "<deal ticket>"}
      negative beyond MarginFree with check_margin=1 -> "10019 Not enough money", nothing written.
      comment longer than 32 chars -> "3 Invalid parameters". NO idempotency: the same request twice
      makes two deals (that is why the client looks the ticket up by comment after a timeout).

Deals:
  GET /api/deal/get_batch?login=1,2,3&group=<mask>&from=<srv epoch>&to=<srv epoch>[&ticket=1,2]
      login and/or group (mask with * e.g. "real\\*", "*"); from/to inclusive on Time.
      -> answer: list of deal records sorted by Deal (ticket) ascending.
  deal record: {"Deal","Login","Order","Time","TimeMsc","Action" (0 buy,1 sell,2 balance),
                "Entry" (0 in,1 out,2 inout,3 out_by),"Symbol","Volume" (1/10000 lot: 1 lot = "10000"),
                "VolumeExt" (1/100000000 lot: 1 lot = "100000000"),
                "Price","Profit","Storage" (swap),"Commission","PositionID","Comment"}
      Deal tickets are unique and increasing across the server.
  GET /api/deal/get?ticket=<deal>  -> answer: the deal record; "13 Not found" for an unknown ticket.
  POST /api/deal/update  body: a deal record (JSON object) with "Deal" (the ticket) and the fields
      to correct, numbers as strings or numbers: Symbol, Action, Entry, Volume or VolumeExt, Price,
      Profit, Storage, Commission, PositionID, Time (server-local epoch), Comment (<= 32 chars);
      "Login", when sent, must be the deal's own (a deal never moves to another account).
      -> answer: the deal record as it now stands. "13 Not found" for an unknown ticket, "3 Invalid
      parameters" for no body, a body that is not a JSON object, an unknown field or a value that
      cannot be one. The account's balance is not recalculated (the dealer books a correction
      balance deal for that).
  GET /api/deal/delete?ticket=<deal>[,<deal>...]  -> {"retcode": "0 Done"}: the deals are gone from
      every later answer. "13 Not found" (nothing deleted) when one of the tickets does not exist,
      "3 Invalid parameters" without a ticket.
  (MetaQuotes' pages: https://support.metaquotes.net/en/docs/mt5/webapi/trade/deal/deal_get,
   .../deal_update and .../deal_delete.)

Positions:
  GET /api/position/get_batch?login=1,2,3&group=<mask>
      -> answer: list of {"Position","Login","Symbol","Action" (0 buy,1 sell),"TimeCreate","TimeUpdate",
                          "PriceOpen","PriceCurrent","PriceSL","PriceTP","Volume","VolumeExt","Profit",
                          "Storage"}

Symbols: the server's symbol names carry broker suffixes: "EURUSD", "GBPUSD", "USDJPY", "XAUUSD.m",
"US30.cash", "BTCUSD.pro". (The product normalises XAUUSD.m -> XAUUSD etc.)

---------------------------------------------------------------------------------------------------
Sandbox notes (not part of the MT5 protocol)

The server keeps its state in sqlite (`state_path`, or in memory); accounts, balances, deals,
positions and prices survive a restart. Sessions, request counters and faults live in memory.
Where it is simpler than a real MT5 server: one price per symbol (no spread), swap is charged per
server-local midnight held (no triple Wednesday), commission is charged on the closing deal,
margin is volume * contract * price / leverage for every symbol, no stop-out. A planted raw deal
(POST deal, control.py) changes the balance by its Profit + Storage + Commission where those
parse as numbers.
`max_rps` > 0 limits each session to that many requests per one-second window; the others are
answered "12 Too frequent requests" at HTTP 200 and not carried out, the session and the
connection kept (off by default; SANDBOX_MT5_MAX_RPS at start-up, or the `max_rps` fault at run
time). MetaQuotes documents the code (MT_RET_ERR_FREQUENT, "Too frequent requests") among the
common return codes; the pages we could consult say nothing more of what the server then does
with the session or the connection, so the sandbox keeps both. The `down` and `drop` faults
(control.py) stand for a server that stops answering and for connections cut in the middle of an
answer.

Control endpoints (JSON in and out, no auth) under /_sandbox/mt5/: see control.py.
"""  # noqa: E501

from .market import SYMBOLS
from .protocol import GROUPS, valid_password
from .server import CONTROL_PREFIX, MT5Server, serve
from .state import MT5State

__all__ = [
    "CONTROL_PREFIX",
    "GROUPS",
    "SYMBOLS",
    "MT5Server",
    "MT5State",
    "serve",
    "valid_password",
]
