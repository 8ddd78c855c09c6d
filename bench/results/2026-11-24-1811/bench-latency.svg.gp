set terminal svg size 760,440 dynamic enhanced font 'Helvetica,12' background rgb 'white'
set output '/work/main/docs/bench-latency.svg'
set title "p99 move-to-STATE latency (ms) vs clients\n{/*0.8 social scenario, server on 1 core of AMD EPYC (2026-11-24 18:11)}"
set xlabel 'clients'
set ylabel 'p99 move-to-STATE latency (ms)'
set grid
set key bottom right box opaque
set xrange [0:*]
set yrange [0:*]
set arrow from graph 0, first 50 to graph 1, first 50 nohead dt 2 lc rgb '#888888'
set label 'budget 50 ms' at graph 0.02, first 52 tc rgb '#666666'
plot '/work/main/bench/results/2026-11-24-1811/curve-plaza.dat' using 1:3 with linespoints lw 2 pt 7 ps 0.7 lc rgb '#1f77b4' title 'plaza', '/work/main/bench/results/2026-11-24-1811/curve-peer.dat' using 1:3 with linespoints lw 2 pt 7 ps 0.7 lc rgb '#d62728' title 'Socket.io peer'
