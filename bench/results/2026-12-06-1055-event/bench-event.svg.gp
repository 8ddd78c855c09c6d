set terminal svg size 760,440 dynamic enhanced font 'Helvetica,12' background rgb 'white'
set output '/work/main/docs/bench-event.svg'
set title "bytes each client receives per second, 300 walkers in one room\n{/*0.8 400 x 400, 20 moves/s, 30 Hz tick; Intel(R) Xeon(R) Processor (2026-12-06 10:55)}"
set ylabel 'bytes per client per second (log scale)'
set logscale y
set yrange [500:*]
set grid ytics
set style fill solid 0.8
set boxwidth 0.6
set xtics rotate by -20 nomirror
unset key
set xrange [-0.6:4.6]
plot '/work/main/bench/results/2026-12-06-1055-event/event-bytes.dat' using 1:3:xtic(2) with boxes lc rgb '#1f77b4', '' using 1:3:(sprintf('%.0f', $3)) with labels offset 0,0.8 notitle
