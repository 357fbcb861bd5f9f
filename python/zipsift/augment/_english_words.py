"""English words that the nonsense-word syllables (onset + vowel + coda) can spell.

The words of a US-English word list (SCOWL, as shipped in Debian's ``wamerican``) that the patterns
of ``datasets.py`` produce, plus common words added by hand. Regenerate when the patterns change:
every generated word is checked against this set.
"""

ENGLISH_WORDS = frozenset("""
able back bail bait bald balk band bank barb bark barn bask bast beef been beep beet belt bend bent
berm bern best biff bilk bind bird blab bland blank blast blat bled bleed bleep blend blent blest
blimp blind blink blip blob blog blond blood bloom blot blue bluff blunt blurb boat bold bolt bond
boob book boom boon boost boot bork born bound bout brad brag braid brain bran brand brant brat bred
breed brent brest bret brig brim brink brisk brit brood brook broom brunt brusk brut buff build
built bulb bulk bump bunk bunt burn burp bust buzz daft damp dank dark darn deal dealt deed deem
deep deft deli dent desk dial dib diff dig dim dink dint dirk disk doff dolt dome done doom door
dork dorm dost doubt doug drab draft drag drain dram drank drat drew drift drink drip drool droop
drop drub drug drum drunk duck duel duff dull dump dunk dusk dust dwelt fab face fact fail fain
faint fang farm fast feed feel feet fell felt fend fern fest feud field fiend fight film find fink
firm fisk fist fizz flab flag flail flak flan flank flap flask flat flax fled flee fleet flex flint
flip flit flog flood flop flout flow flub fluff flunk flux foal folk fond font food fool foot fork
form fort foul found fount frag frail fran frank frat fred freed fret frisk frizz frog from frond
front frost frump fund funk fuzz gaff gail gain gait garb gasp geed geek gelt gent germ gift gild
gilt gist glad gland glen glib glint glob gloom glop glum glut gnat goad goal goff gold golf gonk
good goof gook goon goop gorp gout grab grad graft grail grain gram grand grant grasp greed greek
green greet greg grep grid grim grin grind grip grist grit grog grok groom group grout grub gruff
grunt guff guild gulf gulp gunk gust hound kant keel keen keep kelp kemp kent kept kern kid kiln
kilt kind kink kirk kit klan knob knot kook kraft lab lad laid lain lamp land lank lark last lead
leaf leak leek left lend lent lest lift lilt limp lind link lint lisp list loaf loan loft look loom
loon loop loot lord lorn lost loud lout lump lurk lust maid mail maim main malt mark mask mast meat
meek meet meld melt mend miff mild milf milk mind mink mint mist mold molt monk mont mood moog moon
moot morn most mould mound mount mourn mouth mud muff mulk murk musk must nail nark neck need nest
net nook noon norm noun pact paid pail pain paint pant park past peak peat peed peek peel peep pelt
pend pent perk perm pest pilf pimp pink pint plaid plain plait plan plank plant pled plink plod
plonk plop plot plug plum plump plunk plus pod polk pomp pond poof pool poop pork porn post pound
pout pram prank preen prep prig prim primp print prod prof prom pron proof prop proud prut puff pulp
pump punk punt raft raid rail rain ramp rand rank rant rasp razz reed reef reek reel rend rent resp
rest riff rift rind rink risk romp rood roof rook room roost root round rout rub ruff rump runt rusk
rust sack said sail saint salk salt sand sank scald seed seek seem seen seep self send sent serb
shelf sift silk silt sink skeet skid skiff skim skimp skin skip skit skulk skull skunk slab slag
slain slam slant slap slat sled sleek sleep sleet slid slim slink slip slit slob slog sloop slop
slot slug slum slump slunk slurp slut snag snail snap snark sniff snip snit snob snoop snoot snot
snout snub snuff snug soak soap sod soft sold sook soon soot soul sound soup sour spain spam span
spank spark spat sped speed spelt spend spent sperm spilt spin spit splint spoof spook spool spoon
spot spout sprint spud spun spunk spurn stab staff stag staid stain stalk stamp stan stand stank
star stark stat steed steel steep stem stent step stern stiff stilt stink stint stir stol stomp
stood stool stoop stop stork storm stout stub stud stuff stump stun stunk stunt suit sulk sump sunk
swamp taft tail taint talk tamp tank tarp task teak teed teem teen temp tend tent term tern test
tiff tilt tint tomb took tool toot torn tost tour tout trail train trait tram tramp tran trap treed
trek trend trent tribe trick trig trim trip trod tromp tron troop trot trout trump trunk trust tuft
turk turn tusk twain tweed tweet twerk twerp twig twin twink twirl twist twit vain vamp vast veep
vend vent verb vern vest vlad void volt vomp yank yarn yelp yest yolk york your zest zinc zing zoom
zorn
""".split())
